"""Desired state: cluster YAML and certificate bundles from git."""
