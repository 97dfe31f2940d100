"""The command line's manners: -h, --version, help without type placeholders, usage errors that
exit 1, flags that would do nothing refused, and the repository found from a subfolder.

What plan and apply do against nodes is tested end to end (tests/e2e/test_cli_habits.py).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.cli.options import PLAN_OPTIONS, apply_options
from reconciler.errors import OptionError
from reconciler.reconcile import (
    APPLY_ONLY_FLAGS,
    ReconcileOptions,
    check_options,
    saved_plan_message,
)
from tests.support.cli import RECONCILE
from tests.support.lab import LAB_MATERIAL
from tests.unit.plan.test_render_plans import blocked_plan, converged_plan, reform_plan

APPLY_ONLY = ("--auto-approve", "--allow-dirty", "--allow-master-change", "--plan-file")
TYPE_PLACEHOLDER = re.compile(r"<[a-z][a-z_\[\], |]*>")  # <bool>, <path>, <list[str]> ...


@pytest.fixture(autouse=True)
def _keep_sigterm() -> Iterator[None]:
    """The root command makes SIGTERM stop like Ctrl-C; keep that out of the test process."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def command_paths() -> list[tuple[str, ...]]:
    """Every command, nested groups included: ``()`` is ``reconcile`` itself."""
    paths: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return paths


# Help


@pytest.mark.parametrize("path", command_paths(), ids=lambda path: " ".join(path) or "reconcile")
def test_every_help_answers_to_h_and_shows_no_type_placeholder(path: tuple[str, ...]) -> None:
    code, short = run(*path, "-h")
    assert code == 0, short
    assert run(*path, "--help") == (0, short)
    assert "-h, --help" in short
    assert not TYPE_PLACEHOLDER.search(short), short


def test_root_help_shows_flags_bare_and_values_by_name() -> None:
    _, text = run("-h")
    for shown in (
        "--repo DIR ",
        "--cluster NAME ",
        "--ref GITREF ",
        "--format [text|json|markdown] ",
        "--out FILE ",
        "--plan-file FILE ",
    ):
        assert shown in text
    for flag in ("--plan", "--apply", "--auto-approve", "--allow-dirty", "--version"):
        assert re.search(rf"^  {flag}  +\S", text, re.MULTILINE), flag  # no metavar after it
    assert "[COMMAND [ARGS]...]" in text  # a command is optional: none plans
    for command in ("plan", "apply", "init"):
        assert re.search(rf"^  {command}  +\S", text, re.MULTILINE), command


def test_the_plan_command_lists_only_what_a_plan_uses() -> None:
    _, plan_help = run("plan", "-h")
    _, apply_help = run("apply", "-h")
    for flag in APPLY_ONLY:
        assert flag not in plan_help
        assert flag in apply_help
    for shared in ("--repo DIR", "--cluster NAME", "--ref GITREF", "--out FILE"):
        assert shared in plan_help
        assert shared in apply_help
    assert "--plan " not in apply_help
    assert "--apply" not in plan_help


def test_formats_are_choices_everywhere() -> None:
    assert "--format [text|json] " in run("status", "-h")[1]
    assert "--format [text|json] " in run("clusters", "-h")[1]
    assert "--format [text|json|github] " in run("validate", "-h")[1]


def test_version() -> None:
    code, output = run("--version")
    assert code == 0
    assert output == f"reconcile {version('cms-reconciler')}\n"


# Usage errors exit 1: 2 would read as "changes planned" in CI


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--format", "xml"],
            "Invalid value for '--format': 'xml' is not one of text, json, markdown",
        ),
        (["plan", "--format", "github"], "'github' is not one of text, json, markdown"),
        (["status", "--format", "markdown"], "'markdown' is not one of text, json"),
        (["--bogus"], "No such option: --bogus"),
        (["nosuch"], "No such command 'nosuch'"),
        (["unlock"], "Missing option '--cluster'"),
    ],
)
def test_usage_errors_exit_1(args: list[str], message: str) -> None:
    code, output = run(*args)
    assert code == 1, output
    assert message in output
    assert "Traceback" not in output


def test_usage_errors_exit_1_from_the_real_entry_point() -> None:
    result = subprocess.run(
        [*RECONCILE, "plan", "--bogus"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "No such option: --bogus" in result.stderr


# Flags that would have no effect


@pytest.mark.parametrize("mode", [[], ["--plan"], ["plan"]], ids=["default", "--plan", "plan"])
@pytest.mark.parametrize("flag", APPLY_ONLY)
def test_an_apply_flag_on_a_plan_is_refused(mode: list[str], flag: str, tmp_path: Path) -> None:
    value = [str(tmp_path / "plan.json")] if flag == "--plan-file" else []
    code, output = run(*mode, flag, *value, "--repo", str(tmp_path))
    assert code == 1
    assert f"error: {flag} has no effect on a plan" in output
    assert "run `reconcile apply` instead" in output


def test_several_are_named_together(tmp_path: Path) -> None:
    code, output = run("--auto-approve", "--allow-dirty", "--repo", str(tmp_path))
    assert code == 1
    assert "--auto-approve and --allow-dirty have no effect on a plan" in output


@pytest.mark.parametrize("mode", [["--apply"], ["apply"]])
def test_allow_dirty_with_ref_is_refused(mode: list[str], tmp_path: Path) -> None:
    code, output = run(*mode, "--ref", "HEAD", "--allow-dirty", "--repo", str(tmp_path))
    assert code == 1
    assert "--allow-dirty has no effect with --ref" in output


def test_plan_and_apply_exclude_each_other(tmp_path: Path) -> None:
    code, output = run("--plan", "--apply", "--repo", str(tmp_path))
    assert code == 1
    assert "--plan and --apply exclude each other" in output


@pytest.mark.parametrize(
    "args",
    [
        ["--repo", ".", "status"],
        ["--apply", "plan"],
        ["--cluster", "lab", "--format", "json", "clusters"],
    ],
)
def test_root_options_before_a_command_are_refused(args: list[str]) -> None:
    code, output = run(*args)
    assert code == 1
    command = args[-1]
    assert f"before the command name {command!r} would have no effect" in output
    assert f"`reconcile {command} {args[0]} ...`" in output


def test_check_options_accepts_what_matters() -> None:
    check_options(ReconcileOptions(Path("."), [], out=Path("p.json")))
    check_options(
        ReconcileOptions(
            Path("."),
            ["lab"],
            apply=True,
            out=Path("p.json"),  # apply saves the plan it applies
            plan_file=Path("p.json"),
            auto_approve=True,
            allow_dirty=True,
            allow_master_change=True,
        )
    )
    check_options(ReconcileOptions(Path("."), [], ref="HEAD", apply=True, auto_approve=True))
    with pytest.raises(OptionError):
        check_options(ReconcileOptions(Path("."), [], allow_master_change=True))


@pytest.mark.parametrize(
    ("ignore", "reason", "refused"),
    [
        (True, "INC-4711", False),
        (True, None, True),
        (True, "  ", True),
        (False, "INC-4711", True),
        (False, None, False),
    ],
)
def test_ignore_window_goes_with_a_reason(ignore: bool, reason: str | None, refused: bool) -> None:
    options = ReconcileOptions(
        Path("."), [], apply=True, ignore_window=ignore, window_reason=reason
    )
    if refused:
        with pytest.raises(OptionError, match="--ignore-window needs --reason TEXT"):
            check_options(options)
    else:
        check_options(options)


def test_one_list_of_apply_options() -> None:
    """The CLI's apply-only options are the ones reconcile.py refuses on a plan."""
    declared = apply_options(hidden=False)
    assert {option.name for option in declared} == set(APPLY_ONLY_FLAGS)
    names = {option.name for option in [*PLAN_OPTIONS, *declared]}
    fields = {field.name for field in dataclasses.fields(ReconcileOptions)}
    assert names == fields - {"apply", "repo_given"}


# --out: where the plan went, and the command that applies exactly it


def test_saved_plan_message_names_the_apply_command() -> None:
    options = ReconcileOptions(
        Path("/srv/ops repo"), ["lab", "dc2"], ref="abc123", out=Path("my plan.json")
    )
    assert saved_plan_message(reform_plan(), options) == (
        "Saved the plan to my plan.json. Apply exactly this plan with: reconcile apply "
        "--plan-file 'my plan.json' --repo '/srv/ops repo' --cluster lab --cluster dc2 "
        "--ref abc123"
    )


def test_saved_plan_message_omits_what_was_not_given() -> None:
    options = ReconcileOptions(Path("/found/upward"), [], out=Path("plan.json"), repo_given=False)
    assert saved_plan_message(reform_plan(), options) == (
        "Saved the plan to plan.json. Apply exactly this plan with: "
        "reconcile apply --plan-file plan.json"
    )


def test_saved_plan_message_without_anything_to_apply() -> None:
    options = ReconcileOptions(Path("."), [], out=Path("plan.json"))
    assert saved_plan_message(converged_plan(), options) == "Saved the plan to plan.json."
    assert saved_plan_message(blocked_plan(), options) == "Saved the plan to plan.json."
    applying = dataclasses.replace(options, apply=True)
    assert saved_plan_message(reform_plan(), applying) == "Saved the plan to plan.json."


# The repository found from a subfolder


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "ops"
    shutil.copytree(LAB_MATERIAL / "clusters", root / "clusters")
    (root / "certs" / "lab").mkdir(parents=True)
    return root


def test_a_subfolder_finds_the_repository(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "certs" / "lab")
    code, output = run("clusters", "--format", "json")
    assert code == 0, output
    assert '"name": "lab"' in output


def test_repo_wins_over_the_search(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = repo.parent / "elsewhere"
    (elsewhere / "clusters").mkdir(parents=True)
    monkeypatch.chdir(repo / "certs")
    code, output = run("clusters", "--repo", str(elsewhere), "--format", "json")
    assert code == 0, output
    assert '"clusters": []' in output


def test_the_search_stops_at_the_git_root(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inner = repo / "vendor" / "other"
    (inner / ".git").mkdir(parents=True)
    (inner / "docs").mkdir()
    monkeypatch.chdir(inner / "docs")
    code, output = run("clusters", "--format", "json")
    assert (code, output) == (0, '{"clusters": []}\n')  # docs/ itself: no clusters there
