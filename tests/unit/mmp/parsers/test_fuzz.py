"""Fuzzing: whatever a device prints, a parser answers or raises ``StatusParseError``.

Any other exception (an IndexError, a ValueError from a date) would end a run with a
traceback instead of the clear refusal the rest of the tool handles. The inputs are the
recorded transcripts, mutated line by line and character by character (hostile bytes
included: NUL, ANSI escapes, lone CR, non-ASCII), and raw text with no seed at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler.errors import StatusParseError
from reconciler.mmp import parsers

TRANSCRIPTS = Path(__file__).resolve().parents[4] / "tests" / "transcripts"
EXAMPLES = 500

# parser, what it may raise (None: it must never raise), transcript name prefixes it reads
PARSERS: dict[str, tuple[Callable[[str], object], bool, tuple[str, ...]]] = {
    "parse_cluster_status": (parsers.parse_cluster_status, True, ("status_",)),
    "parse_pki_inspect": (parsers.parse_pki_inspect, True, ("pki_inspect",)),
    "parse_pki_list": (parsers.parse_pki_list, True, ("pki_list",)),
    "parse_backup_snapshot": (parsers.parse_backup_snapshot, True, ("backup_snapshot",)),
    "parse_backup_list": (parsers.parse_backup_list, True, ("backup_list",)),
    "check_certs_updated": (parsers.check_certs_updated, True, ("certs_",)),
    "raise_if_rejected": (lambda text: parsers.raise_if_rejected(text, "cmd"), True, ("",)),
    "find_rejection": (parsers.find_rejection, False, ("",)),
    "is_usage": (parsers.is_usage, False, ("",)),
}
ALL = sorted(path.read_bytes().decode("utf-8") for path in TRANSCRIPTS.rglob("*.txt"))
NASTY = ["\x00", "\x1b[31m", "\x1b[2J", "\r", "\r\n", "\n", ":", " : ", "(", ")", "'", "é", "\t"]
NASTY += ["Status : ", "ERROR: no", "Usage:", "cms1> ", "$ ", "9999-99-99", "(me)", "-1"]


def _seeds(prefixes: tuple[str, ...]) -> list[str]:
    chosen = [
        path.read_bytes().decode("utf-8")
        for path in sorted(TRANSCRIPTS.rglob("*.txt"))
        if path.name.startswith(prefixes)
    ]
    assert chosen, f"no transcript starts with {prefixes}"
    return chosen


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str:
    """A transcript with a few lines dropped, doubled, swapped, cut or spliced with junk."""
    lines = draw(st.sampled_from(seeds)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["drop", "double", "swap", "cut", "splice", "replace"]))
        event(f"mutation: {kind}")
        if kind == "drop":
            del lines[at]
        elif kind == "double":
            lines.insert(at, lines[at])
        elif kind == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "cut":
            lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))]
        else:
            junk = draw(st.one_of(st.sampled_from(NASTY), st.text(max_size=12)))
            column = draw(st.integers(0, len(lines[at])))
            keep = column if kind == "splice" else draw(st.integers(column, len(lines[at])))
            lines[at] = lines[at][:column] + junk + lines[at][keep:]
    return "".join(lines)


def _inputs(seeds: list[str]) -> st.SearchStrategy[str]:
    noise = st.lists(st.sampled_from([*NASTY, "a", "1", " ", "."]), max_size=40).map("".join)
    return st.one_of(mutated(seeds), st.text(max_size=200), noise)


def _row(name: str) -> object:
    may_refuse = PARSERS[name][1]
    case = f"{name}: any output " + (
        "is parsed or refused with StatusParseError" if may_refuse else "is answered, never raises"
    )
    return pytest.param(name, marks=pytest.mark.reliability(section="fuzzing", case=case))


@pytest.mark.parametrize("name", [_row(name) for name in sorted(PARSERS)])
def test_parser_raises_only_its_parse_error(
    name: str, record_property: Callable[[str, object], None]
) -> None:
    parse, may_refuse, prefixes = PARSERS[name]
    seeds = _seeds(prefixes) if prefixes != ("",) else ALL
    outcomes: dict[str, int] = {"parsed": 0, "refused": 0}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_inputs(seeds))
    def run(text: str) -> None:
        try:
            parse(text)
        except StatusParseError:
            assert may_refuse, f"{name} must answer, not raise"
            outcomes["refused"] += 1
            event("refused with StatusParseError")
        else:
            outcomes["parsed"] += 1
            event("parsed")

    run()
    record_property("examples", outcomes["parsed"] + outcomes["refused"])
    # Both branches reached, or the fuzzing proved nothing about one of them.
    assert outcomes["parsed"] > 0
    assert outcomes["refused"] > 0 or not may_refuse
