"""cms-reconciler: Cisco Meeting Server database clusters, converged from git."""

__version__ = "0.1.0"
