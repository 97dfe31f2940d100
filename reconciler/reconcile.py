"""The root command: ``reconcile [--plan | --apply]``, without typer (cli.py parses)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.text import Text

from reconciler.apply.apply import (
    ApplyOptions,
    Refused,
    check_authority,
    check_saved_plan,
    execute,
)
from reconciler.mmp.session import Redactor
from reconciler.plan.models import Plan, Step
from reconciler.plan.render.json import load_plan_json, render_json
from reconciler.plan.render.markdown import render_markdown
from reconciler.plan.render.text import render_text
from reconciler.run import ReconcileRun

EXIT_CONVERGED, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


@dataclass(frozen=True)
class ReconcileOptions:
    repo: Path
    clusters: Sequence[str]
    ref: str | None = None
    apply: bool = False
    output_format: str = "text"
    out: Path | None = None
    plan_file: Path | None = None
    auto_approve: bool = False
    allow_dirty: bool = False
    allow_master_change: bool = False


@dataclass
class Terminal:
    """Where output goes: results on ``out``, progress and questions on ``err``."""

    out: Console
    err: Console
    ask: Callable[[str], str] | None  # None when there is no TTY to ask on


def run_reconcile(options: ReconcileOptions, env: Mapping[str, str], terminal: Terminal) -> int:
    with ReconcileRun(options.repo, options.clusters, ref=options.ref, env=env) as run:
        if options.apply and run.desired.dirty and options.ref is None and not options.allow_dirty:
            raise Refused(
                "the working tree has uncommitted changes; apply uses committed desired state: "
                "commit them, pass --ref, or --allow-dirty"
            )
        plan = run.plan()
        if options.plan_file is not None:
            saved = load_plan_json(options.plan_file.read_text(), source=str(options.plan_file))
            check_saved_plan(saved, plan)
            plan = saved
        if options.out is not None:
            options.out.write_text(render_json(plan))
        machine = options.output_format == "json"
        _show_plan(plan, options.output_format, terminal, to_stderr=options.apply and machine)
        if plan.blocked:
            return EXIT_ERROR
        if not options.apply:
            return EXIT_CHANGES if plan.has_changes else EXIT_CONVERGED
        if not plan.has_changes:
            if machine:
                terminal.out.print_json(json.dumps({"converged": True, "clusters": []}))
            return EXIT_CONVERGED
        check_authority(plan, options.allow_master_change)
        _approve(plan, options, terminal)
        redactor = Redactor(
            [secret for pool in run.pools.values() for secret in pool.redactor.secrets]
        )
        report = execute(
            run,
            plan,
            ApplyOptions(options.repo / ".reconcile", options.allow_master_change),
            progress=progress_printer(terminal.err),
            redactor=redactor,
        )
        for cluster in report.clusters:
            if cluster.error:
                terminal.err.print(f"[bold red]error:[/] cluster {cluster.name}: {cluster.error}")
                terminal.err.print(
                    f"journal: {cluster.journal}\nRun `reconcile --plan` to see the safe "
                    "continuation from here."
                )
        if report.final_plan is not None and not report.converged:
            terminal.err.print("[bold red]error:[/] the clusters are not converged after apply:")
            render_text(report.final_plan, terminal.err)
        if machine:
            terminal.out.print_json(json.dumps(report.as_json()))
        elif report.converged:
            terminal.out.print("Apply complete: every cluster is converged.")
        return EXIT_ERROR if report.failed else EXIT_CONVERGED


def _show_plan(plan: Plan, output_format: str, terminal: Terminal, *, to_stderr: bool) -> None:
    console = terminal.err if to_stderr else terminal.out
    if output_format == "json":
        if to_stderr:
            render_text(plan, console)
        else:
            console.file.write(render_json(plan))
    elif output_format == "markdown":
        console.file.write(render_markdown(plan))
    else:
        render_text(plan, console)


def _approve(plan: Plan, options: ReconcileOptions, terminal: Terminal) -> None:
    if options.auto_approve:
        return
    if terminal.ask is None:
        raise Refused("no terminal to ask for approval: pass --auto-approve to apply unattended")
    answer = terminal.ask("Apply this plan? Only 'yes' is accepted: ")
    if answer.strip() != "yes":
        raise Refused("apply cancelled (the answer was not 'yes'); nothing was changed")


def progress_printer(console: Console) -> Callable[[Step, str, float], None]:
    styles = {"running": "cyan", "done": "green", "failed": "bold red"}

    def show(step: Step, state: str, seconds: float) -> None:
        if state == "running":
            return
        line = Text(f"{state:>6}", style=styles.get(state, ""))
        line.append(
            f" {step.id:>3}. [{step.node_name}] {step.action.value:<10} {step.command}"
            f"  ({seconds:.1f}s)"
        )
        console.print(line, highlight=False)

    return show
