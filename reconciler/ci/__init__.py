"""What the package knows of the CI system the pull-request loop runs on, one module a system.

``github.py``: GitHub Actions (the one system today). Another system (GitLab CI, say) would be
one module here beside it and one folder of templates (what ``reconcile init`` writes), found
the way ``github.template_root`` finds ``.github/``.
"""
