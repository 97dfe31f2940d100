"""JSON Schema of ``clusters/<name>.yaml``, generated from the pydantic model.

Editors (yaml-language-server) use the committed copy ``clusters/cluster.schema.json``; a test
keeps it equal to this output. Regenerate with:
``reconcile schema > clusters/cluster.schema.json``.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.desired.models import ClusterSpec

SCHEMA_FILE = "clusters/cluster.schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def cluster_json_schema() -> dict[str, Any]:
    body = ClusterSpec.model_json_schema(mode="validation")
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "cms-reconciler cluster",
        "description": (
            "Desired state of one Cisco Meeting Server database cluster "
            "(clusters/<name>.yaml; name must equal the file's stem). Paths are relative to "
            "the repository root; secrets are never in this file, only the names of "
            "environment variables that hold them."
        ),
    }
    schema.update({key: value for key, value in body.items() if key not in schema})
    return schema


def render_schema() -> str:
    """Exactly what ``reconcile schema`` prints and what the committed file holds."""
    return json.dumps(cluster_json_schema(), indent=2) + "\n"
