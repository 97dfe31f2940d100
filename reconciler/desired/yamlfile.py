"""Parse a cluster YAML file safely, with line numbers and duplicate-key detection.

``yaml.safe_load`` silently keeps the last of two equal keys, which hides mistakes in a
pull request; the composed node tree is walked first to catch them and to remember the line
of every key path so that findings can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

_MAX_DEPTH = 64


@dataclass
class ParsedYaml:
    """The data (None when unusable), the line of each key path, and problems found."""

    data: Any = None
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(key path, message) pairs; key path empty for file-level problems."""


def parse_yaml(raw: bytes) -> ParsedYaml:
    result = ParsedYaml()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        result.problems.append(("", f"is not UTF-8 text (byte {error.start}); save it as UTF-8"))
        return result
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        result.problems.append(("", _yaml_error_message(error)))
        return result
    except yaml.YAMLError as error:  # unmarked errors are rare but possible
        result.problems.append(("", f"YAML error: {error}"))
        return result
    if root is not None:
        _walk(root, "", result, 0)
    if data is None:
        result.problems.append(("", "is empty; expected a mapping with name, master, nodes, ..."))
        return result
    if not isinstance(data, dict):
        result.problems.append(
            (
                "",
                f"must be a mapping of keys (name, master, nodes, ssh, certs, ...), "
                f"got a {_yaml_type(data)}",
            )
        )
        return result
    result.data = data
    return result


def _yaml_error_message(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = error.problem or "invalid YAML"
    context = f" ({error.context})" if error.context else ""
    return f"YAML syntax error{where}: {problem}{context}"


def _walk(node: yaml.Node, path: str, result: ParsedYaml, depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            child = f"{path}.{key}" if path else key
            if key in seen:
                result.problems.append(
                    (
                        child,
                        f"duplicate key {key!r} at line {line} (first at line {seen[key]}); "
                        "YAML would keep only the last one, remove one of them",
                    )
                )
            else:
                seen[key] = line
                result.lines.setdefault(child, line)
            _walk(value_node, child, result, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = f"{path}[{index}]"
            result.lines.setdefault(child, item.start_mark.line + 1)
            _walk(item, child, result, depth + 1)


def _yaml_type(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__
