"""The GitHub comment primitives the plan's comments and the apply's share.

Markdown that shows any text as typed (``md_text``, ``md_code``, ``fenced``), the hidden
marker CI finds a cluster's comment by (``cluster_marker``), and a comment's size as GitHub
counts it, with its limits (``comment_size``, ``clip``). Both ``markdown.py`` (the plan) and
``apply.render`` (what apply did) build on them, so a fix to escaping reaches both.
"""

from __future__ import annotations

import re

from reconciler.ci.github import COMMENT_LIMIT

GITHUB_COMMENT_LIMIT = COMMENT_LIMIT  # GitHub refuses a comment body longer than this
DEFAULT_LIMIT = 65_000  # in UTF-8 bytes (``comment_size``), with room to spare
MIN_LIMIT = 1_000  # room for the markers, the summary and the note saying what was cut

# Line breaks and other control characters: none belongs in one markdown line, and
# ``str.splitlines`` in a CI script would split on several of them.
_LINE_BREAK = re.compile(r"\r\n|[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# Characters with a meaning in GitHub markdown wherever they appear in a line. ``&`` stops
# entities, ``<``/``>`` stop HTML, ``$`` stops math, ``|`` stops table cells.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&$])")
_BACKTICKS = re.compile(r"`+")
_MARKER_NAME = re.compile(r"[^A-Za-z0-9._-]")
_NAME_MAX = 200  # of a cluster name in a marker or a command line the comment suggests
LINES = re.compile(r"[^\n]*\n|[^\n]+$")  # each line with its newline; the last may lack one


def md_text(value: str) -> str:
    """Plain text inside a markdown line or table cell: shown as typed, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", _LINE_BREAK.sub(" ", value))


def md_code(value: str, *, in_table: bool = False) -> str:
    """An inline code span that holds any text, backticks included (CommonMark rules).

    The fence is one backtick longer than the longest run inside; a space pads content that
    starts or ends with a backtick (or with spaces on both ends, which CommonMark strips).
    In a table cell ``|`` must still be escaped, even inside a code span (GFM).
    """
    value = _LINE_BREAK.sub(" ", value)
    if not value:
        return "(empty)"
    longest = max((len(run) for run in _BACKTICKS.findall(value)), default=0)
    fence = "`" * (longest + 1)
    padded = value.startswith("`") or value.endswith("`")
    # CommonMark strips one space each side unless the content is only spaces (U+0020 alone:
    # a no-break space counts as content, so " \xa0 " must be padded too).
    padded = padded or (value.startswith(" ") and value.endswith(" ") and value.strip(" ") != "")
    if padded:
        value = f" {value} "
    if in_table:
        value = value.replace("|", "\\|")
    return f"{fence}{value}{fence}"


def fenced(text: str, language: str = "") -> str:
    """A fenced code block holding ``text`` as is, whatever backticks it contains.

    A line of ``text`` that starts like one of our markers is indented by a space, so that
    splitting the output at marker lines can never cut inside a block.
    """
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = "".join(
        f" {line}" if line.startswith("<!-- cms-reconciler") else line
        for line in LINES.findall(text)
    )
    if not body.endswith("\n"):
        body += "\n"
    return f"{fence}{language}\n{body}{fence}\n"


def cluster_marker(name: str, kind: str = "plan") -> str:
    """``<!-- cms-reconciler plan: lab -->``: how CI finds the comment of one cluster.

    Cluster names are letters, digits, ``_`` and ``-`` (the cluster file schema); anything
    else, from a hand-edited plan file, becomes ``_`` so the comment stays hidden.
    """
    safe = _MARKER_NAME.sub("_", name[:_NAME_MAX]) or "_"
    return f"<!-- cms-reconciler {kind}: {safe} -->"


def plain_name(name: str) -> bool:
    """True when a cluster's ``name`` goes into a marker or a suggested command line as is."""
    return len(name) <= _NAME_MAX and not _MARKER_NAME.search(name)


def comment_size(text: str) -> int:
    """Size as GitHub might count it, whichever way it does: UTF-8 bytes are never fewer than
    characters or UTF-16 code units, so a comment within this many fits any count."""
    return len(text.encode("utf-8"))


def clip(text: str, size: int) -> str:
    """The longest start of ``text`` whose ``comment_size`` is at most ``size``."""
    return text.encode("utf-8")[: max(0, size)].decode("utf-8", errors="ignore")
