"""Desired state: cluster YAML and certificate bundles from git.

Entry points: ``loader.load_desired`` / ``loader.load_cluster`` (everything checked, returns
``state.DesiredState`` / ``state.ClusterResult``), ``loader.load_spec`` (YAML and topology
only, for status), ``validate.run_validate`` and ``schema.cluster_json_schema`` for the CLI.

Modules, one job each: ``source`` (working tree or git commit), ``yamlfile`` (safe YAML with
lines), ``models`` (pydantic), ``specerrors`` (pydantic errors -> findings), ``topology``
(rules across nodes), ``access`` (credential variables, known_hosts), ``pem`` (reading keys
and certificates), ``certcheck`` (certificate rules), ``bundle`` (per-node bundles),
``state`` (the loaded result), ``findings``.
"""
