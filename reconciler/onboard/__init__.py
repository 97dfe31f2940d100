"""Bringing an existing cluster under git: ``reconcile import`` and ``reconcile hostkeys``.

Both talk to nodes only through ``reconciler.mmp``: the host-key scan stops after the SSH key
exchange (no login), and the import logs in only once every host key is pinned, then sends
read-only commands (``database cluster status``, ``pki inspect``) and SFTP reads.
"""
