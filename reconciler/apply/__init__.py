"""Applying plans: the executor, backups, waits, journal and the apply lock."""
