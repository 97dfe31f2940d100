"""The root command: ``reconcile [--plan | --apply]``, without typer (cli.py parses)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from reconciler.errors import ConfigError, OptionError, Refused, StalePlan
from reconciler.parallelism import DEFAULT_PARALLELISM
from reconciler.plan.models import ClusterPlan, Plan
from reconciler.plan.render.json import load_plan_json, render_json
from reconciler.plan.render.markdown import render_markdown
from reconciler.plan.render.text import render_text
from reconciler.run import Fleet

if TYPE_CHECKING:
    from reconciler.apply.apply import ApplyReport
    from reconciler.apply.supervised import Decision, Gate, Preview
    from reconciler.apply.window_gate import WindowGate
    from reconciler.interrupts import Interrupts
    from reconciler.progress import ApplyProgress

EXIT_CONVERGED, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
EXIT_DEFERRED = 3  # apply: a cluster's maintenance window is closed; nothing sent to it


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
    repo_given: bool = True  # False: found from the current folder (the --out hint omits it)
    parallelism: int = DEFAULT_PARALLELISM  # nodes read at once, clusters applied at once
    rehearse: bool = False  # plan only: run the plan on a twin of the live cluster
    trusted_ref: str | None = None  # plan only: access from this commit (SPEC §8)
    state_dir: Path | None = None  # apply only: journal, backups, local lock (else the env's)
    skip_rehearsal: bool = False  # apply only: do not rehearse the plan on a twin first
    recertify: bool = False  # re-load every node's certificates, even where files match
    step: bool = False  # apply only: ask before each step that changes a node
    ignore_window: bool = False  # apply only: run outside a closed maintenance window
    window_reason: str | None = None  # apply only: why (--reason), recorded


APPLY_ONLY_FLAGS = {
    "plan_file": "--plan-file",
    "auto_approve": "--auto-approve",
    "allow_dirty": "--allow-dirty",
    "allow_master_change": "--allow-master-change",
    "state_dir": "--state-dir",
    "skip_rehearsal": "--skip-rehearsal",
    "step": "--step",
    "ignore_window": "--ignore-window",
    "window_reason": "--reason",
}
"""Options that mean something only to apply: on a plan, ``check_options`` refuses them (the
``plan`` command takes them hidden, for that message)."""


def check_options(options: ReconcileOptions) -> None:
    """Refuse a flag that would have no effect, before anything is read: a flag silently
    ignored is a flag the user thinks did something."""
    if not options.apply:
        given = [flag for name, flag in APPLY_ONLY_FLAGS.items() if getattr(options, name)]
        if given:
            them = " and ".join(given)
            raise OptionError(
                f"{them} {'has' if len(given) == 1 else 'have'} no effect on a plan (a plan "
                f"changes nothing): drop {'it' if len(given) == 1 else 'them'}, or run "
                "`reconcile apply` instead"
            )
    elif options.trusted_ref is not None:
        raise OptionError(
            "--trusted-ref is for the plan of a proposed change (a pull request): apply runs "
            "only what is merged, whose access is already trusted; drop it"
        )
    elif options.rehearse:
        raise OptionError(
            "--rehearse has no effect on apply, which rehearses the plan on a twin itself "
            "before its first command (and refuses it if it does not converge there): drop it"
        )
    elif options.ignore_window != bool(options.window_reason and options.window_reason.strip()):
        raise OptionError(
            "--ignore-window needs --reason TEXT (why the window is ignored, for the journal "
            "and the outcome), and --reason goes only with --ignore-window"
        )
    elif options.step and options.auto_approve:
        raise OptionError(
            "--step asks a person before each step and --auto-approve asks nobody: drop one of them"
        )
    elif options.allow_dirty and options.ref is not None:
        raise OptionError(
            "--allow-dirty has no effect with --ref: apply then reads the desired state from "
            "that commit, never from the working tree; drop one of them"
        )


APPROVAL_QUESTION = "Apply this plan? Only 'yes' is accepted"


@dataclass
class Terminal:
    """Where output goes: results on ``out``, progress and questions on ``err``."""

    out: Console
    err: Console
    # Asks a question and returns the answer; None when there is no TTY to ask on. The
    # question ends without punctuation: the asker adds its own ": " (as typer.prompt does).
    ask: Callable[[str], str] | None


def plan_or_apply(options: ReconcileOptions, env: Mapping[str, str], terminal: Terminal) -> int:
    """The root command, whichever of plan and apply it is; returns the exit code."""
    check_options(options)
    if options.apply and options.step and terminal.ask is None:
        raise OptionError(
            "--step asks before each step that changes a node and needs a terminal to ask "
            "on (stdin and stderr a TTY); nothing was contacted"
        )
    saved = _load_plan_file(options.plan_file) if options.plan_file is not None else None
    clusters = options.clusters
    if saved is not None and options.apply:
        clusters = _clusters_of_plan_file(saved, options)
        _check_recertify(saved, options)
        if not options.skip_rehearsal:
            # Only an early "no": apply rehearses the plan itself before its first command.
            from reconciler.rehearse.plans import refuse_failed_rehearsal

            refuse_failed_rehearsal(saved, options.plan_file or "")
    with Fleet(
        options.repo,
        clusters,
        ref=options.ref,
        env=env,
        parallelism=options.parallelism,
        check_key_consistency=options.apply,  # a plan sends nothing: see pem.decrypt_key
        trusted_ref=options.trusted_ref,
    ) as fleet:
        if not options.apply:
            plan = fleet.plan(recertify=options.recertify)
            if options.rehearse:
                from reconciler.rehearse.plans import rehearse_plan

                plan = rehearse_plan(plan, fleet.clusters, fleet.live)
            _save_and_show(plan, options, terminal)
            if plan.blocked or plan.rehearsal_failed:
                return EXIT_ERROR
            return EXIT_CHANGES if plan.has_changes else EXIT_CONVERGED
        return _apply(fleet, saved, options, env, terminal)


def _apply(
    fleet: Fleet,
    saved: Plan | None,
    options: ReconcileOptions,
    env: Mapping[str, str],
    terminal: Terminal,
) -> int:
    """Lock, plan again, check, rehearse, ask, execute. The apply machinery is imported
    here, so a plan (the CI path run on every pull request) does not pay for it at start-up."""
    from reconciler.apply.apply import (
        ApplyOptions,
        check_saved_plan,
        clear_markers,
        cluster_locks,
        run_plan,
    )
    from reconciler.apply.window_gate import WindowGate
    from reconciler.interrupts import Interrupts
    from reconciler.mmp.session import Redactor
    from reconciler.rehearse.gate import rehearse_for_apply
    from reconciler.workdir import workdir

    if fleet.desired.dirty and options.ref is None and not options.allow_dirty:
        raise Refused(
            "the working tree has uncommitted changes ("
            + _listed(fleet.desired.dirty_paths)
            + "); apply uses committed desired state: commit them, pass --ref, or "
            "--allow-dirty"
        )

    def say(text: str) -> None:
        terminal.err.print(Text(text), soft_wrap=True)

    # From here to the report, Ctrl-C and SIGTERM stop at safe points (reconciler/interrupts.py).
    state = workdir(options.repo, options.state_dir, env)
    with Interrupts(say) as interrupts, cluster_locks(fleet, state, say) as locks:
        interrupts.check()
        backup_time = backup_time_of(saved) if saved is not None else None
        # A plan file says whether it re-loads the certificates: plan again as reviewed.
        recertify = options.recertify or (saved is not None and saved.recertify)
        plan = fleet.plan(backup_time=backup_time, recertify=recertify)
        interrupts.check()
        if saved is not None:
            check_saved_plan(saved, plan)
        locks.cover(plan)
        window = _window_gate(fleet, plan, options)
        runs = [cluster for cluster in plan.clusters if window.runs(cluster)]
        if runs and not plan.blocked and not options.skip_rehearsal:
            # Never the file's word for it: this plan, on a twin of this read (about a
            # second a cluster; docs/design.md). Only what will run: a deferred cluster's
            # twin would neither be used nor may it stop the others.
            plan = _with_clusters(plan, rehearse_for_apply(_only(plan, runs), fleet))
            runs = [cluster for cluster in plan.clusters if window.runs(cluster)]
            interrupts.check()
        _save_and_show(plan, options, terminal)
        if plan.blocked:
            return EXIT_ERROR
        if not plan.has_changes:
            clear_markers(fleet, plan)
            _show_nothing_to_apply(plan, options, terminal)
            return EXIT_CONVERGED
        _say_window(window, say)
        if runs:
            _check_runnable(plan, runs, options, say)
            interrupts.check()
            with interrupts.immediate():
                approved = _approve(plan, options, terminal)
            if approved:
                # Time passed while a person read the plan: it must still describe the
                # nodes, and the windows may have closed.
                check_saved_plan(plan, fleet.plan(backup_time=backup_time, recertify=recertify))
                later = _window_gate(fleet, plan, options)
                closed = {
                    name: why for name, why in later.deferred.items() if name not in window.deferred
                }
                _say_window(WindowGate(deferred=closed), say)
                window = window.merged(later)
        redactor = Redactor(
            [secret for pool in fleet.pools.values() for secret in pool.redactor.secrets]
        )
        several = sum(1 for cluster in plan.clusters if window.runs(cluster)) > 1
        gate = _step_gate(terminal, interrupts) if options.step else None
        # Leaving this block (Ctrl-C included) clears the live line before any message.
        with _progress(terminal, env, several, live=not options.step) as progress:
            applied = run_plan(
                fleet,
                plan,
                ApplyOptions(
                    state,
                    options.allow_master_change,
                    # --step: one question at a time, in this thread (signals reach it).
                    parallelism=1 if options.step else options.parallelism,
                    rehearsal_skipped=options.skip_rehearsal,
                    gate=gate,
                    window=window,
                ),
                progress=progress,
                redactor=redactor,
                lock_ids=locks.ids,
                cancel=interrupts.cancel,
            )
    _report(applied.report, plan, options, terminal)
    report = applied.unless_stopped()  # where each cluster stopped, said after the outcome
    if report.failed:
        return EXIT_ERROR
    return EXIT_DEFERRED if report.deferred else EXIT_CONVERGED


def _check_runnable(
    plan: Plan, runs: list[ClusterPlan], options: ReconcileOptions, say: Callable[[str], None]
) -> None:
    """The checks of the clusters that will run, before anyone is asked."""
    from reconciler.apply.apply import check_authority
    from reconciler.rehearse.gate import refuse_unrehearsed

    running = _only(plan, runs)
    check_authority(running, options.allow_master_change)
    if options.skip_rehearsal:
        say(
            "warning: --skip-rehearsal: the plan was not rehearsed on a twin before apply "
            "(the journal records it)"
        )
    else:
        refuse_unrehearsed(running)


def _only(plan: Plan, clusters: list[ClusterPlan]) -> Plan:
    return plan.model_copy(update={"clusters": clusters})


def _with_clusters(plan: Plan, changed: Plan) -> Plan:
    """``plan`` with each cluster ``changed`` holds in place of its own."""
    by_name = {cluster.name: cluster for cluster in changed.clusters}
    return _only(plan, [by_name.get(cluster.name, cluster) for cluster in plan.clusters])


def _window_gate(fleet: Fleet, plan: Plan, options: ReconcileOptions) -> WindowGate:
    """Which clusters' maintenance windows let them run now (``apply.window_gate``)."""
    from reconciler.apply.window_gate import window_gate

    maintenance = {cluster.name: cluster.spec.maintenance for cluster in fleet.clusters}
    reason = (
        options.window_reason.strip() if options.ignore_window and options.window_reason else None
    )
    return window_gate(plan, maintenance, now=datetime.now(UTC), ignore_reason=reason)


def _say_window(window: WindowGate, say: Callable[[str], None]) -> None:
    """One line per cluster deferred (nothing is sent to it) or run despite its window."""
    for name, why in window.deferred.items():
        say(f"cluster {name}: {why}. Nothing is sent to it.")
    for name, ignored in window.ignored.items():
        say(f"warning: cluster {name}: {ignored.text()}")


def _progress(
    terminal: Terminal, env: Mapping[str, str], several: bool, *, live: bool
) -> AbstractContextManager[ApplyProgress]:
    """The apply's progress on stderr; with ``live`` False, log lines only: a supervised
    apply asks questions on the terminal, where a live line would redraw over them."""
    from reconciler.progress import ApplyProgress, period_from, progress_printer

    if live:
        return progress_printer(terminal.err, env=env, show_cluster=several)
    return ApplyProgress(terminal.err, live=False, period=period_from(env), show_cluster=several)


def _step_gate(terminal: Terminal, interrupts: Interrupts) -> Gate:
    """``--step``: before each step that changes a node, its preview and the question, on
    the terminal (apply.supervised). Ctrl-C at the question (or the end of input) stops as
    Ctrl-C does between steps; the question is asked with signals acting at once."""
    from typer import Abort  # what the CLI's prompt raises on Ctrl-C and end of input

    from reconciler.apply.supervised import ask_step

    ask = terminal.ask
    assert ask is not None  # plan_or_apply refused --step without a terminal

    def say(text: str) -> None:
        terminal.err.print(Text(text), soft_wrap=True, highlight=False)

    def gate(preview: Preview) -> Decision:
        with interrupts.immediate():
            try:
                return ask_step(preview, ask, say)
            except Abort:
                raise KeyboardInterrupt from None

    return gate


def _show_nothing_to_apply(plan: Plan, options: ReconcileOptions, terminal: Terminal) -> None:
    """The outcome of an apply with nothing to do: every cluster converged (the plan,
    already shown, says so in text)."""
    from reconciler.apply.apply import ApplyReport
    from reconciler.apply.render import render_apply_markdown
    from reconciler.apply.results import judge

    nothing = ApplyReport(
        started=plan.created_at,
        git=plan.git,
        converged=True,
        results=judge(plan, [], plan),
        final_plan=plan,
    )
    if options.output_format == "json":
        terminal.out.print_json(json.dumps(nothing.as_json()))
    elif options.output_format == "markdown":
        terminal.out.file.write(render_apply_markdown(nothing, plan))


def _listed(paths: Sequence[str], at_most: int = 5) -> str:
    shown = ", ".join(paths[:at_most])
    more = len(paths) - at_most
    return shown + (f" and {more} more" if more > 0 else "") if paths else "no commit yet"


def _clusters_of_plan_file(saved: Plan, options: ReconcileOptions) -> list[str]:
    """A plan file is the whole of what apply may do: its clusters, and only those."""
    names = [cluster.name for cluster in saved.clusters]
    if not names:
        raise Refused(
            f"the plan file {options.plan_file} holds no cluster, so it approves nothing; "
            "make a plan of the clusters to change with `reconcile plan --out FILE`"
        )
    if len(set(names)) != len(names):
        raise Refused(f"the plan file {options.plan_file} names a cluster twice; make a new plan")
    requested = set(options.clusters)
    if requested and requested != set(names):
        raise Refused(
            f"--cluster {', '.join(sorted(requested))} does not match the plan file "
            f"{options.plan_file}, which holds {', '.join(names)}: apply applies exactly "
            "what the file holds; drop --cluster or make a plan of those clusters"
        )
    return names


def _check_recertify(saved: Plan, options: ReconcileOptions) -> None:
    """``--recertify`` with a plan file made without it would apply other steps than the
    file's: refused before any node is contacted. (A file made with it needs no flag: apply
    plans again with the file's own option.)"""
    if options.recertify and not saved.recertify:
        raise Refused(
            f"--recertify does not match the plan file {options.plan_file}, which was planned "
            "without it: apply runs exactly what the file holds; drop --recertify, or make a "
            "new plan with `reconcile plan --recertify --out FILE`"
        )


def backup_time_of(saved: Plan) -> datetime:
    """The saved plan's time, in UTC: this run names its backups after it."""
    try:
        moment = datetime.fromisoformat(saved.created_at)
    except ValueError:
        raise StalePlan(
            f"the plan file's created_at {saved.created_at!r} is not a time; make a new plan"
        ) from None
    # Backup names carry a UTC stamp: an offset in the file must not shift it.
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _load_plan_file(path: Path) -> Plan:
    """Read before any node is contacted: a missing file is a plain error."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read the plan file {path}: {error.strerror or error}") from None
    return load_plan_json(text, source=str(path))


def _save_and_show(plan: Plan, options: ReconcileOptions, terminal: Terminal) -> None:
    if options.out is not None:
        try:
            options.out.write_text(render_json(plan))
        except OSError as error:
            raise ConfigError(f"cannot write the plan to {options.out}: {error}") from None
    machine = options.output_format in ("json", "markdown")
    _show_plan(plan, options.output_format, terminal, to_stderr=options.apply and machine)
    if options.out is not None:
        # stderr, so stdout stays the plan alone; soft_wrap: the command is copied whole.
        terminal.err.print(Text(saved_plan_message(plan, options)), soft_wrap=True)


def saved_plan_message(plan: Plan, options: ReconcileOptions) -> str:
    """Where ``--out`` put the plan and, for a plan that changes something, the command that
    applies exactly it (with the --repo, --cluster and --ref this plan was made with)."""
    saved = f"Saved the plan to {options.out}."
    if options.apply or plan.blocked or not plan.has_changes:
        return saved
    words = ["reconcile", "apply", "--plan-file", str(options.out)]
    if options.repo_given:
        words += ["--repo", str(options.repo)]
    for name in options.clusters:
        words += ["--cluster", name]
    if options.ref is not None:
        words += ["--ref", options.ref]
    return f"{saved} Apply exactly this plan with: {shlex.join(words)}"


def _report(report: ApplyReport, plan: Plan, options: ReconcileOptions, terminal: Terminal) -> None:
    """The outcome: every planned cluster's result on stdout (text, JSON or markdown); on
    stderr each failure, and the plan after apply of the clusters still not converged. (An
    interruption is said by the caller, after this.)"""
    from reconciler.apply.render import render_apply_markdown, render_apply_text

    for cluster in report.clusters:
        if cluster.error and not cluster.interrupted:
            # One line, the reason on it (its command and output follow, indented).
            terminal.err.print(
                Text.assemble(("error: ", "bold red"), f"cluster {cluster.name}: ", cluster.error),
                soft_wrap=True,
            )
            terminal.err.print(
                f"journal: {cluster.journal}\nRun `reconcile --plan` to see the safe "
                "continuation from here.",
                markup=False,
                soft_wrap=True,
            )
    final = report.final_plan
    behind = [c for c in final.clusters if c.steps or c.blocked] if final is not None else []
    if final is not None and behind:
        terminal.err.print(Text("error: not converged after apply:", "bold red"))
        render_text(final.model_copy(update={"clusters": behind}), terminal.err)
    if options.output_format == "json":
        terminal.out.print_json(json.dumps(report.as_json()))
    elif options.output_format == "markdown":
        terminal.out.file.write(render_apply_markdown(report, plan))
    else:
        terminal.out.print(Text(render_apply_text(report, plan)), soft_wrap=True)


def _show_plan(plan: Plan, output_format: str, terminal: Terminal, *, to_stderr: bool) -> None:
    console = terminal.err if to_stderr else terminal.out
    if to_stderr:  # stdout holds only the machine-readable outcome of apply
        render_text(plan, console)
    elif output_format == "json":
        console.file.write(render_json(plan))
    elif output_format == "markdown":
        console.file.write(render_markdown(plan))
    else:
        render_text(plan, console)


def _approve(plan: Plan, options: ReconcileOptions, terminal: Terminal) -> bool:
    """True when a person approved (and time may have passed); False for --auto-approve."""
    if options.auto_approve:
        return False
    if terminal.ask is None:
        raise Refused("no terminal to ask for approval: pass --auto-approve to apply unattended")
    answer = terminal.ask(APPROVAL_QUESTION)
    if answer.strip() != "yes":
        raise Refused("apply cancelled (the answer was not 'yes'); nothing was changed")
    return True
