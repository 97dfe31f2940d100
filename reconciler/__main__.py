"""``python -m reconciler`` runs the CLI (tests use it to drive the real entry point)."""

from reconciler.cli import main

main()
