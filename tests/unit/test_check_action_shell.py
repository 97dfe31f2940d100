"""scripts/check_action_shell.py: shellcheck on a composite action's `run:` steps, which
actionlint does not check; a finding names the action's line and the step."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.check_action_shell import main

ACTION = """\
name: sample
description: a composite action to check
inputs:
  target:
    description: what to tidy
    required: true
runs:
  using: composite
  steps:
    - uses: actions/cache@v4
      with:
        path: ~/.cache
        key: cache
    - name: Tidy up
      shell: bash
      env:
        TARGET: ${{{{ inputs.target }}}}
      run: |
        echo "tidying ${{{{ inputs.target }}}}"
        if [ -n "${{{{ inputs.target }}}}" ]; then
          rm -rf {target}/cache
        fi
    - name: Say where
      shell: pwsh
      run: Write-Output $env:TARGET
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "action.yml"
    path.write_text(text)
    return path


def test_an_unquoted_variable_is_a_finding_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    action = write(tmp_path, ACTION.format(target="$TARGET"))
    assert main([str(action)]) == 1
    out = capsys.readouterr().out
    line = ACTION.splitlines().index("          rm -rf {target}/cache") + 1
    assert out.startswith(f'{action}:{line}: step "Tidy up": SC2086 (info, script line 3): ')
    assert len(out.splitlines()) == 1  # the masked ${{ }} and the pwsh step say nothing


def test_a_clean_action_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    action = write(tmp_path, ACTION.format(target='"$TARGET"'))
    assert main([str(action)]) == 0
    assert capsys.readouterr().out == ""


def test_a_one_line_run_and_a_run_without_a_shell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    action = write(
        tmp_path,
        "runs:\n"
        "  using: composite\n"
        "  steps:\n"
        '    - run: "$GITHUB_ACTION_PATH/go.sh"\n'  # YAML's quotes, not the shell's
        "      shell: bash\n"
        "    - id: bare\n"
        "      run: echo hi\n",
    )
    assert main([str(action)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f'{action}:4: step "step 1": SC2086 (info, script line 1): '
        "Double quote to prevent globbing and word splitting.",
        f'{action}:7: step "bare": a composite action\'s run step needs `shell:`',
    ]


def test_an_action_that_is_not_composite_has_nothing_to_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    action = write(tmp_path, "runs:\n  using: node24\n  main: index.js\n")
    assert main([str(action)]) == 0
    assert capsys.readouterr().out == ""
