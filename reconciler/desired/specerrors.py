"""Turn pydantic ``ValidationError`` entries into findings a person can act on.

Pydantic's own messages ("Extra inputs are not permitted") name neither the allowed keys nor
the YAML pitfall behind a type error; these do, and they never echo values of ``*_env`` keys
(a pasted secret must not end up in CI logs).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any, Union

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.desired.findings import Severity, SpecFinding
from reconciler.desired.models import CertFileSpec

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
}


def key_path(loc: Sequence[int | str]) -> str:
    """``('nodes', 1, 'ssh_port')`` -> ``nodes[1].ssh_port``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def findings_from_validation_error(
    error: ValidationError, root: type[BaseModel], file: str
) -> list[SpecFinding]:
    findings: list[SpecFinding] = []
    for detail in error.errors(include_url=False):
        loc = tuple(detail["loc"])
        findings.append(
            SpecFinding(
                severity=Severity.ERROR,
                file=file,
                key=key_path(loc),
                message=_message(detail, loc, root),
            )
        )
    return findings


def _message(detail: ErrorDetails, loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    kind = detail["type"]
    value = detail.get("input")
    secret = bool(loc) and isinstance(loc[-1], str) and loc[-1].endswith("_env")
    if kind == "extra_forbidden":
        unknown = str(loc[-1]) if loc else "?"
        model = model_at(root, loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(unknown, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listing = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"unknown key {unknown!r}{listing}{hint}"
    if kind == "missing":
        return f"required key {str(loc[-1])!r} is missing" if loc else "required value is missing"
    if kind == "value_error":
        ctx = detail.get("ctx") or {}
        return str(ctx.get("error", detail["msg"]))
    if kind == "model_type" and model_at(root, loc) is CertFileSpec:
        return (
            f"expected a repository path or a mapping {{path: ..., remote_name: ...}}, "
            f"got {_describe(value)}"
        )
    if kind in _TYPE_WORDS:
        got = "" if secret else f", got {_describe(value)}"
        return f"expected {_TYPE_WORDS[kind]}{got}{_yaml_hint(value, kind)}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        if loc and str(loc[-1]).endswith("port"):
            return f"{_describe(value)} is not a TCP port; use 1-65535"
        return f"{_describe(value)} is out of range: {detail['msg'].lower()}"
    if kind == "too_short":
        return "must not be empty" if loc and loc[-1] != "nodes" else "must list at least one node"
    if kind == "string_too_short":
        return "must not be empty"
    return detail["msg"]


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _yaml_hint(value: Any, kind: str) -> str:
    if isinstance(value, bool) and kind == "string_type":
        return " (YAML reads yes/no/on/off/true/false as booleans; quote the value)"
    if isinstance(value, int | float) and kind == "string_type":
        return " (quote the value to make it a string)"
    return ""


def model_at(root: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that validates the value at ``loc`` (to list its allowed keys)."""
    current: Any = root
    for part in loc:
        model = _as_model(current)
        if isinstance(part, int):
            current = _item_type(current)
        elif model is not None and part in model.model_fields:
            current = model.model_fields[part].annotation
        else:
            return None
    return _as_model(current)


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [inner for arg in typing.get_args(annotation) for inner in _unwrap(arg)]
    return [annotation]


def _as_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in _unwrap(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _item_type(annotation: Any) -> Any:
    for candidate in _unwrap(annotation):
        if typing.get_origin(candidate) is list:
            return typing.get_args(candidate)[0]
    return None
