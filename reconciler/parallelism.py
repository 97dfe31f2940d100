"""How much one run does at once (``--parallelism``), in a module the CLI can import cheaply."""

DEFAULT_PARALLELISM = 32
"""Nodes read at once, and clusters applied at once. A node's read is mostly waiting on the
network and the device, so a fleet is read in a few rounds: 32 keeps a 150-node fleet to five
rounds while staying far below a runner's file-descriptor and thread limits. Steps within one
cluster are never concurrent: the reference's order is the safety."""
