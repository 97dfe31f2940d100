"""Plugins every test run loads: the reliability recorder, and pytester for testing it."""

pytest_plugins = ["tests.support.reliability", "pytester"]
