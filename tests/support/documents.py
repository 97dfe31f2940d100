"""Key paths into parsed JSON or YAML documents, for fuzzers that mutate them in place."""

from __future__ import annotations

from typing import Any


def key_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into ``node`` (list items by index), parents before their children, the
    root excluded."""
    children: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    found: list[tuple[Any, ...]] = []
    for key, child in children:
        found.append((*prefix, key))
        found += key_paths(child, (*prefix, key))
    return found
