"""Parse a cluster YAML file safely, with line numbers and duplicate-key detection.

A cluster file comes from a pull request, so it is read as hostile input before it is read
as YAML: a file over ``MAX_FILE_BYTES`` is refused before it is decoded, and the event stream
is checked before anything is composed or constructed. Anchors and aliases (``&a``/``*a``,
hence merge keys ``<<``) are refused outright: nothing in the schema needs them, and nine
levels of ``&a [*b, *b, ...]`` expand to gigabytes. Nesting deeper than ``_MAX_DEPTH`` is
refused too, as the composer recurses once per level.

``yaml.safe_load`` silently keeps the last of two equal keys, which hides mistakes in a
pull request; the composed node tree is walked first to catch them and to remember the line
of every key path so that findings can point at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml

MAX_FILE_BYTES = 1_048_576
"""Largest cluster file read (1 MiB); a real one is a few kilobytes."""

_MAX_DEPTH = 64
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class ParsedYaml:
    """The data (None when unusable), the line of each key path, and problems found."""

    data: Any = None
    lines: dict[str, int] = field(default_factory=dict)
    columns: dict[str, int] = field(default_factory=dict)
    """1-based column of each key path in ``lines`` (for annotations on a PR's diff)."""
    problems: list[YamlProblem] = field(default_factory=list)
    """Key path empty for file-level problems; line and column where the parser knows."""


class YamlProblem(NamedTuple):
    key: str
    message: str
    line: int | None = None
    column: int | None = None


def parse_yaml(raw: bytes) -> ParsedYaml:
    result = ParsedYaml()
    too_big = size_problem(len(raw), "cluster file")
    if too_big:
        result.problems.append(YamlProblem("", too_big))
        return result
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        result.problems.append(
            YamlProblem("", f"is not UTF-8 text (byte {error.start}); save it as UTF-8")
        )
        return result
    try:
        refused = structure_problem(text, "cluster files")
        if refused:
            result.problems.append(YamlProblem("", refused, *_position_in(refused)))
            return result
        root, data = _compose_and_construct(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        result.problems.append(
            YamlProblem(
                "",
                _yaml_error_message(error),
                mark.line + 1 if mark else None,
                mark.column + 1 if mark else None,
            )
        )
        return result
    except yaml.YAMLError as error:  # unmarked errors are rare but possible
        result.problems.append(YamlProblem("", f"YAML error: {error}"))
        return result
    if root is not None:
        _walk(root, "", result, 0)
    if data is None:
        result.problems.append(
            YamlProblem("", "is empty; expected a mapping with name, master, nodes, ...")
        )
        return result
    if not isinstance(data, dict):
        result.problems.append(
            YamlProblem(
                "",
                f"must be a mapping of keys (name, master, nodes, ssh, certs, ...), "
                f"got a {_yaml_type(data)}",
            )
        )
        return result
    result.data = data
    return result


def size_problem(size: int, what: str) -> str | None:
    """Why a file of ``size`` bytes is refused unread, or None when it is small enough."""
    if size <= MAX_FILE_BYTES:
        return None
    return (
        f"is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte (1 MiB) limit for a {what}; "
        "it cannot be a hand-written configuration"
    )


def structure_problem(text: str, what: str) -> str | None:
    """The first anchor, alias, merge key or too-deep nesting in ``text``, or None.

    Only the parser's event stream is read, so nothing is expanded however the aliases nest;
    ``what`` names the files in the message (``cluster files``). Raises ``yaml.YAMLError``
    for a syntax error met on the way.
    """
    open_collections: list[_Collection] = []
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionEndEvent):
            open_collections.pop()
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        mark = event.start_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
            return (
                f"{where}: YAML anchors and aliases (&a / *a) are not allowed in {what}; "
                "write the value out"
            )
        at_key = open_collections[-1].next_is_key() if open_collections else False
        if at_key and _is_merge_key(event):
            return f"{where}: YAML merge keys (<<) are not allowed in {what}; write the keys out"
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_collections) >= _MAX_DEPTH:
                return (
                    f"{where}: lists and mappings nested more than {_MAX_DEPTH} levels deep "
                    f"are not allowed in {what}"
                )
            open_collections.append(_Collection(isinstance(event, yaml.MappingStartEvent)))
    return None


@dataclass
class _Collection:
    """An open mapping or sequence in the event stream; mappings alternate key and value."""

    is_mapping: bool
    nodes: int = 0

    def next_is_key(self) -> bool:
        """Count one more node in this collection; True when it is a mapping key."""
        self.nodes += 1
        return self.is_mapping and self.nodes % 2 == 1


def _is_merge_key(event: yaml.NodeEvent) -> bool:
    if not isinstance(event, yaml.ScalarEvent):
        return False
    if event.tag is not None:
        return event.tag == _MERGE_TAG
    return event.implicit[0] and event.value == "<<"


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for lines and duplicates) and the data built from that same tree."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        try:
            data = loader.construct_document(root) if root is not None else None
        except (ValueError, OverflowError) as error:
            # A scalar YAML resolves but Python cannot build: `2026-02-30`, a 5000-digit int.
            raise _unbuildable(root, error) from None
    finally:
        loader.dispose()
    return root, data


def _unbuildable(root: yaml.Node | None, error: Exception) -> yaml.MarkedYAMLError:
    """Find the scalar that cannot be built, so the error names its line."""
    for node in _scalars(root):
        probe = yaml.SafeLoader("")
        try:
            probe.construct_object(node, deep=True)
        except (ValueError, OverflowError) as cause:
            return yaml.MarkedYAMLError(
                problem=f"the value {node.value[:40]!r} cannot be read ({cause})",
                problem_mark=node.start_mark,
            )
        finally:
            probe.dispose()
    return yaml.MarkedYAMLError(problem=f"a value cannot be read ({error})")


def _scalars(node: yaml.Node | None) -> list[yaml.ScalarNode]:
    if isinstance(node, yaml.ScalarNode):
        return [node]
    if isinstance(node, yaml.MappingNode):
        return [s for key, value in node.value for s in (*_scalars(key), *_scalars(value))]
    if isinstance(node, yaml.SequenceNode):
        return [s for item in node.value for s in _scalars(item)]
    return []


_POSITION = re.compile(r"line (\d+), column (\d+)")


def _position_in(message: str) -> tuple[int | None, int | None]:
    """The position ``structure_problem`` writes into its message, for annotations."""
    match = _POSITION.search(message)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


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
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            column = key_node.start_mark.column + 1
            child = f"{path}.{key}" if path else key
            if key in seen:
                result.problems.append(
                    YamlProblem(
                        child,
                        f"duplicate key {key!r} at line {line} (first at line {seen[key]}); "
                        "YAML would keep only the last one, remove one of them",
                        line,
                        column,
                    )
                )
            else:
                seen[key] = line
                result.lines.setdefault(child, line)
                result.columns.setdefault(child, column)
            _walk(value_node, child, result, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = f"{path}[{index}]"
            result.lines.setdefault(child, item.start_mark.line + 1)
            result.columns.setdefault(child, item.start_mark.column + 1)
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
