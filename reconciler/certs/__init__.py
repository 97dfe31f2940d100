"""Certificate lifecycle: ``reconcile certs check|csr|sign|install|issue``.

Modules, one job each: ``check`` (expiry of the bundle in git and of the files in use on each
node) and ``report`` (its text, JSON and Prometheus output); ``csr``, ``install`` and ``issue``
(one command each) write a new bundle for a cluster through ``target`` (the cluster, its paths
and passphrase), ``material`` (keys, CSRs, names and extensions), ``authority`` (a CA the user
holds) and ``writing`` (check the new bundle as ``validate`` does, then write it all or nothing).
``sign`` is the CA's step between ``csr`` and ``install``: it signs the CSRs with ``authority``
and touches nothing of the cluster.

Private keys are encrypted with the cluster's passphrase before any byte of them reaches a
file, temporary files included.
"""
