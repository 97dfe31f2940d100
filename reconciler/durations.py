"""Durations as written in cluster files (``30d``, ``300s``, ``1h30m``)."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_UNIT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> timedelta:
    """Parse ``<number><unit>`` runs (w, d, h, m, s, ms); a bare number means seconds.

    Raises ``ValueError`` with a message fit for a user: the caller adds the file and key.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty duration; write e.g. '30d', '300s' or '1h30m'")
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return timedelta(seconds=float(value))
    position = 0
    total = 0.0
    for match in _PART.finditer(value):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(value) or position == 0:
        raise ValueError(
            f"{text!r} is not a duration; write e.g. '30d', '300s' or '1h30m' "
            "(units: w, d, h, m, s, ms)"
        )
    return timedelta(seconds=total)


def duration_text(delta: timedelta) -> str:
    """Inverse of ``parse_duration`` for whole seconds: ``30d``, ``10m``, ``300s``."""
    seconds = delta.total_seconds()
    if seconds != int(seconds):
        return f"{seconds}s"
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def format_duration(delta: timedelta) -> str:
    """Short human form, largest units first (``29d 4h``)."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return sign + " ".join(parts)
