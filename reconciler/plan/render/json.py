"""The plan as SPEC §5 JSON: what ``--format json`` prints and what ``--out``/``--plan-file`` store.

The output is ``Plan.model_dump`` minus optional keys that are ``None``, so a plan file reads
like the SPEC example (no ``"after": null`` on every step) and still loads back to an equal
``Plan``: the dropped keys are exactly the ones whose model default is ``None``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from reconciler.errors import ConfigError
from reconciler.plan.models import FORMAT_VERSION, Plan

# Optional keys whose default is None; leaving them out changes nothing on load.
_STEP_OPTIONAL = ("after", "expect", "upload", "backup_name")
_FINDING_OPTIONAL = ("message", "desired_certificate")
_IMPACT_OPTIONAL = ("action_seconds",)
_CLUSTER_OPTIONAL = ("node_names", "rehearsal", "access", "condition")
_MAX_REPORTED_ERRORS = 5


def plan_json_data(plan: Plan) -> dict[str, Any]:
    """The JSON-ready dict of a plan (for callers that embed it in a larger document)."""
    data = plan.model_dump(mode="json")
    for cluster in data["clusters"]:
        for step in cluster["steps"]:
            _drop_none(step, _STEP_OPTIONAL)
        for finding in cluster["findings"]:
            _drop_none(finding, _FINDING_OPTIONAL)
        _drop_none(cluster["impact"], _IMPACT_OPTIONAL)
        _drop_none(cluster, _CLUSTER_OPTIONAL)
    return data


def render_json(plan: Plan) -> str:
    """SPEC §5 plan JSON: 2-space indent, non-ASCII kept readable, trailing newline."""
    return json.dumps(plan_json_data(plan), indent=2, ensure_ascii=False) + "\n"


def load_plan_json(text: str, *, source: str = "plan file") -> Plan:
    """Validate a saved plan; every problem becomes a ``ConfigError`` naming ``source``.

    The format version is checked before the model so that a plan written by a newer
    reconciler is refused with a version message rather than a list of field errors.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{source}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a plan must be a JSON object, not {_json_type(data)}")
    if "format_version" not in data:
        raise ConfigError(f"{source}: no 'format_version'; is this a cms-reconciler plan?")
    version = data["format_version"]
    if type(version) is not int or version != FORMAT_VERSION:
        raise ConfigError(
            f"{source}: format_version {json.dumps(version)} is not supported "
            f"(this reconciler reads format_version {FORMAT_VERSION}); "
            "make the plan again with this version"
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{source}: not a valid plan: {_describe(error)}") from error


def _drop_none(mapping: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in mapping and mapping[key] is None:
            del mapping[key]


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _describe(error: ValidationError) -> str:
    """Pydantic's errors as ``clusters.0.steps.2.action: <message>``, at most a few."""
    problems = error.errors(include_url=False)
    parts = [
        f"{'.'.join(str(part) for part in problem['loc']) or '(top level)'}: {problem['msg']}"
        for problem in problems[:_MAX_REPORTED_ERRORS]
    ]
    more = len(problems) - _MAX_REPORTED_ERRORS
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
