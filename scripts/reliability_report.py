"""Write docs/reliability.md from the JSON a `make reliability` test run left behind.

The document states what a test run proved, so it is generated from that run's results
(tests/support/reliability.py records them) and never edited by hand: a row reads "passed"
only if its test passed, and a failing test shows as FAILED with its first error line.

Usage: python scripts/reliability_report.py RESULTS.json docs/reliability.md [--command CMD]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

SECTIONS: dict[str, str] = {
    "fault-matrix": (
        "Each fault injected at each step of an apply, against the simulator: the run stops "
        "or recovers as the spec says, and no step destroys the master's database."
    ),
    "hostile-input": (
        "Bad or hostile input, each refused before any command is sent, with a one-line "
        "message and no traceback; hostile device output fails closed."
    ),
    "secrets": (
        "A full apply with distinctive secrets; every output and every file written is "
        "searched for them, in clear and encoded forms."
    ),
    "fuzzing": (
        "Property tests (hypothesis): parsers and loaders raise nothing but their own "
        "errors; the plan-file reader refuses every mutation that changes what would run."
    ),
    "interop": "The SSH side against real OpenSSH tools, not only paramiko talking to itself.",
    "truthful": (
        "What the tool says is so: a cluster that is not well is never reported healthy or "
        "converged, every planned cluster is accounted for, and nothing is written where the "
        "command does not say (through a symlink, over an uncommitted file)."
    ),
}
SHOWN = {
    "passed": "passed",
    "failed": "**FAILED**",
    "error": "**ERROR**",
    "skipped": "**SKIPPED**",
    "xfailed": "**XFAILED**",
    "xpassed": "**XPASSED**",
}
TITLES = {
    "fault-matrix": "Fault matrix",
    "hostile-input": "Hostile input",
    "secrets": "Secrets",
    "fuzzing": "Fuzzing",
    "interop": "OpenSSH interop",
    "truthful": "Says only what is true",
}


def _cell(text: object) -> str:
    """A table cell: one line, pipes escaped, so no result can break the table."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _tests(rows: Sequence[Mapping[str, Any]]) -> str:
    """The test ids of a row, parametrizations of one test folded: ``f.py::t[a, b]``."""
    by_test: dict[str, list[str]] = {}
    for row in rows:
        base, bracket, param = str(row["nodeid"]).partition("[")
        by_test.setdefault(base, [])
        if bracket:
            by_test[base].append(param.removesuffix("]"))
    return "<br>".join(
        f"`{_cell(base)}{'[' + _cell(', '.join(params)) + ']' if params else ''}`"
        for base, params in by_test.items()
    )


def _result(rows: Sequence[Mapping[str, Any]]) -> str:
    """``passed`` only if every test of the row passed; else what failed, and why."""
    bad = [row for row in rows if row["outcome"] != "passed"]
    if not bad:
        return "passed" if len(rows) == 1 else f"passed ({len(rows)} of {len(rows)})"
    first = bad[0]
    shown = SHOWN.get(str(first["outcome"]), f"**{str(first['outcome']).upper()}**")
    if len(rows) > 1:
        shown += f" ({len(bad)} of {len(rows)} not passed; first `{first['nodeid']}`)"
    if first.get("message"):
        shown += f": {first['message']}"
    return _cell(shown)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _examples(rows: Sequence[Mapping[str, Any]]) -> int | None:
    counts = [row.get("properties", {}).get("examples") for row in rows]
    numbers = [int(count) for count in counts if count is not None]
    return sum(numbers) if numbers else None


def _section(name: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: str(r["nodeid"])):
        groups.setdefault(str(row["case"]), []).append(row)
    examples = any(_examples(group) is not None for group in groups.values())
    passed = sum(1 for row in rows if row["outcome"] == "passed")
    lines = [f"## {TITLES.get(name, name)}", "", SECTIONS.get(name, ""), ""]
    header = ["case", "result", *(["examples"] if examples else []), "seconds", "tests"]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for case in sorted(groups, key=str.lower):
        group = groups[case]
        cells = [_cell(case), _result(group)]
        if examples:
            count = _examples(group)
            cells.append("" if count is None else str(count))
        seconds = sum(float(row.get("duration", 0)) for row in group)
        cells += [f"{seconds:.2f}", _tests(group)]
        lines.append("| " + " | ".join(cells) + " |")
    total = f"{_count(len(groups), 'case')}, {passed} of {_count(len(rows), 'test')} passed"
    if examples:
        total += f"; {sum(_examples(g) or 0 for g in groups.values())} examples in all"
    lines += ["", total + ".", ""]
    return lines


def render(document: Mapping[str, Any], command: str | None = None) -> str:
    rows: Iterable[Mapping[str, Any]] = document.get("results", [])
    by_section: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_section.setdefault(str(row["section"]), []).append(row)
    every = [row for section in by_section.values() for row in section]
    passed = sum(1 for row in every if row["outcome"] == "passed")
    lines = [
        "# Reliability",
        "",
        "<!-- Generated by scripts/reliability_report.py from a test run; do not edit. -->",
        "",
        f"Generated {document.get('generated', '?')} by `{command or 'make reliability'}`",
        f"(test command: `{document.get('command', '?')}`).",
        "",
        f"**{passed} of {len(every)} reliability tests passed** "
        f"(pytest exit status {document.get('exitstatus', '?')}).",
        "",
        "| section | passed | not passed |",
        "| --- | --- | --- |",
    ]
    ordered = [name for name in SECTIONS if name in by_section]
    ordered += sorted(set(by_section) - set(SECTIONS))
    for name in ordered:
        ok = sum(1 for row in by_section[name] if row["outcome"] == "passed")
        lines.append(f"| {TITLES.get(name, name)} | {ok} | {len(by_section[name]) - ok} |")
    for name in SECTIONS:
        if name not in by_section:
            lines.append(f"| {TITLES[name]} | 0 | 0 (no tests in this run) |")
    lines.append("")
    for name in ordered:
        lines += _section(name, by_section[name])
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("results", type=Path, help="JSON from pytest --reliability-json")
    parser.add_argument("output", type=Path, help="the Markdown file to write")
    parser.add_argument("--command", default=None, help="the command shown as the generator")
    args = parser.parse_args(argv)
    if not args.results.is_file():
        # The run did not get as far as writing results: keep the last document, say why.
        print(f"error: {args.results} does not exist; the test run did not finish", file=sys.stderr)
        return 2
    document = json.loads(args.results.read_text())
    args.output.write_text(render(document, args.command))
    failed = [row for row in document.get("results", []) if row["outcome"] != "passed"]
    print(f"{args.output}: {len(document.get('results', []))} rows, {len(failed)} not passed")
    return 1 if failed or not document.get("results") else 0


if __name__ == "__main__":
    raise SystemExit(main())
