"""Dotted paths into parsed JSON (``data.items.0.price``), as task files write them. Pure."""

from __future__ import annotations

from typing import Any

#: What :func:`json_lookup` answers for a path that is not there (equal to nothing).
MISSING = object()


def json_lookup(data: Any, path: str) -> Any:
    """``a.b.0.c`` in parsed JSON (list indices as numbers); :data:`MISSING` when a step is
    not there."""
    node = data
    for step in path.split("."):
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return MISSING
    return node
