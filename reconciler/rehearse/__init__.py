"""Rehearsal: run a plan with the real executor against a twin of the live cluster.

The twin is the simulator's device model seeded from what the nodes reported when the plan
was read; the executor talks to it through the real ``MMPShell`` over an in-process channel,
and the device's operation times are modelled on a virtual clock rather than waited.
"""
