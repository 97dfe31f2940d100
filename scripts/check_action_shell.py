"""Shellcheck every `run:` of a composite action: actionlint checks only the workflows' steps.

Each `run:` whose step's `shell:` is bash or sh is checked the way actionlint checks a
workflow's: `${{ }}` masked with underscores, the runner's own `set -eo pipefail` (bash) or
`set -e` (sh) put before it, actionlint's exclusions. Any finding, of any level, fails, naming
the action file, its line and the step.

Usage: python scripts/check_action_shell.py ACTION.yml...
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

# actionlint's (rule_shellcheck.go), for what masking ${{ }} and the runner make shellcheck
# misread: SC1091 a sourced file exists on the runner only; SC2194, SC2050, SC2157 a masked
# expression looks constant; SC2154 a variable comes from the step's `env:`.
EXCLUDED = "SC1091,SC2194,SC2050,SC2154,SC2157"
# How the runner starts them: `bash --noprofile --norc -eo pipefail {0}`, `sh -e {0}`.
PREAMBLE = {"bash": "set -eo pipefail", "sh": "set -e"}
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)


@dataclass(frozen=True)
class Script:
    """One `run:` of an action."""

    step: str  # its name, else its id, else its position
    shell: str  # bash or sh
    source: str
    run_line: int  # the action file's line of `run:`
    # The action file's line of the script's first line, where the two keep their lines apart
    # alike (a literal block, or one line); else None, and findings point at `run:`.
    first_line: int | None


@dataclass(frozen=True)
class Finding:
    step: str
    line: int
    text: str


def _mapping(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}


def _scalar(node: yaml.Node | None) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def scripts(text: str) -> Iterator[Script | Finding]:
    """The shell scripts of a composite action's steps, and a finding per step GitHub refuses."""
    runs = _mapping(_mapping(yaml.compose(text)).get("runs"))
    steps = runs.get("steps")
    if _scalar(runs.get("using")) != "composite" or not isinstance(steps, yaml.SequenceNode):
        return
    for number, node in enumerate(steps.value, start=1):
        step = _mapping(node)
        run = step.get("run")
        if not isinstance(run, yaml.ScalarNode):
            continue
        name = _scalar(step.get("name")) or _scalar(step.get("id")) or f"step {number}"
        run_line = run.start_mark.line + 1
        shell = _scalar(step.get("shell"))
        if shell is None:
            yield Finding(name, run_line, "a composite action's run step needs `shell:`")
            continue
        program = shell.split()[0] if shell.split() else ""
        if program not in PREAMBLE:
            continue  # pwsh, python, ...: not shellcheck's
        if run.style == "|":
            first_line: int | None = run_line + 1
        elif "\n" not in run.value.rstrip("\n"):
            first_line = run_line
        else:
            first_line = None
        yield Script(name, program, run.value, run_line, first_line)


def shellcheck(script: Script, executable: str) -> list[Finding]:
    masked = EXPRESSION.sub(lambda match: "_" * len(match[0]), script.source)
    result = subprocess.run(  # noqa: S603 (a fixed argument list; the script goes to stdin)
        [executable, "--norc", "-x", "-f", "json", "-s", script.shell, "-e", EXCLUDED, "-"],
        input=f"{PREAMBLE[script.shell]}\n{masked}\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1):
        return [Finding(script.step, script.run_line, f"shellcheck failed: {result.stderr}")]
    findings = []
    for issue in json.loads(result.stdout or "[]"):
        line = issue["line"] - 1  # the preamble's line is not the action's
        at = script.run_line if script.first_line is None else script.first_line + line - 1
        text = f"SC{issue['code']} ({issue['level']}, script line {line}): {issue['message']}"
        findings.append(Finding(script.step, at, text))
    return findings


def check(action: Path, executable: str) -> list[Finding]:
    findings: list[Finding] = []
    for item in scripts(action.read_text()):
        findings.extend([item] if isinstance(item, Finding) else shellcheck(item, executable))
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("actions", nargs="+", type=Path, metavar="ACTION.yml")
    parser.add_argument("--shellcheck", default="shellcheck", help="the shellcheck to run")
    args = parser.parse_args(argv)
    executable = shutil.which(args.shellcheck)
    if executable is None:
        print(f"{args.shellcheck}: not found", file=sys.stderr)
        return 2
    failed = False
    for action in args.actions:
        for finding in check(action, executable):
            print(f'{action}:{finding.line}: step "{finding.step}": {finding.text}')
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
