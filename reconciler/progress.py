"""What a person watching an apply sees on stderr while the steps run.

The executor and the waits know nothing of rich: they tell a ``Progress``
(``reconciler.apply.executor``) which step started, each poll of a wait, and how each step
ended; this module renders that.

On a terminal, one live line shows the step running now and, while its node is polled, what
the wait expects and how long it has taken against its timeout::

    4/27 [cms2] remove — waiting for Disabled 0:42 / 5:00

On a terminal too narrow for it, the step's name and what it waits for are cut first (``4/27
[cms2] remove — wai… 0:42 / 5:00``), then the step number and node: the clock and the
timeout stay whole while there is room for them.

Without a terminal (a CI log, a pipe), a step still waiting prints a line every ``period``
seconds, 10 by default (``RECONCILE_PROGRESS_PERIOD`` overrides it: ``2``, ``2s``,
``500ms``)::

    [cms2] join 127.0.85.73: still waiting for In Sync (20s elapsed, timeout 10m)

In both, each finished step prints one line. Stopping (the end of the ``with`` block,
including on Ctrl-C) clears the live line before anything else is printed.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.text import Text

from reconciler.apply.waits import Waiting
from reconciler.durations import format_duration, parse_duration
from reconciler.errors import ConfigError
from reconciler.plan.models import Action, Expectation, Step

PERIOD_ENV = "RECONCILE_PROGRESS_PERIOD"
DEFAULT_PERIOD = 10.0  # seconds between "still waiting" lines in a log (Terraform's habit)
REFRESHES_PER_SECOND = 4

EXPECTED = {
    Expectation.DISABLED: "Disabled",
    Expectation.MASTER: "Enabled as master",
    Expectation.IN_SYNC: "In Sync",
    Expectation.USES_MASTER: "using the master",
}
ENDED_STYLE = {"done": "green", "failed": "bold red"}
ACTION_WIDTH = max(len(action.value) for action in Action)  # the step kinds line up
CLUSTER_COMMAND = "database cluster "


def period_from(env: Mapping[str, str]) -> float:
    """Seconds between "still waiting" lines: ``RECONCILE_PROGRESS_PERIOD``, else 10."""
    text = env.get(PERIOD_ENV, "").strip()
    if not text:
        return DEFAULT_PERIOD
    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError as error:
        raise ConfigError(f"{PERIOD_ENV}: {error}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{PERIOD_ENV} must be more than 0 seconds, not {text!r}")
    return seconds


def clock_text(seconds: float) -> str:
    """``0:42``, ``10:00``, ``1:02:03``: a stopwatch, whole seconds."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def short_command(step: Step) -> str:
    """``join 127.0.85.73`` for ``database cluster join 127.0.85.73``; others as they are."""
    command = step.command
    return command[len(CLUSTER_COMMAND) :] if command.startswith(CLUSTER_COMMAND) else command


@dataclass
class _Running:
    cluster: str
    step: Step
    total: int
    started: float  # the progress clock when the step started
    wait: Waiting | None = None
    wait_seen: float = 0.0  # the progress clock at the last poll
    next_line: float = 0.0  # wait seconds at which the next log line is due


class ApplyProgress:
    """Renders an apply's progress on ``console`` (stderr); see the module docstring.

    ``live`` picks the terminal mode; ``period`` and ``clock`` are injectable so tests need
    no real waiting.
    """

    def __init__(
        self,
        console: Console,
        *,
        live: bool,
        period: float = DEFAULT_PERIOD,
        clock: Callable[[], float] = time.monotonic,
        show_cluster: bool = False,
    ) -> None:
        self.console = console
        self.live = live
        self.period = period
        self.clock = clock
        self.show_cluster = show_cluster
        # The step running now in each cluster (several when clusters apply at once), by
        # the step object's identity: the executor passes the same object to every call.
        self._running: dict[int, _Running] = {}
        self._lock = threading.Lock()  # the live display reads from its own thread
        self._display: Live | None = None

    # --- the executor's Progress --------------------------------------------------------
    def started(self, cluster: str, step: Step, total: int) -> None:
        with self._lock:
            self._running[id(step)] = _Running(
                cluster, step, total, self.clock(), next_line=self.period
            )

    def waiting(self, step: Step, wait: Waiting) -> None:
        with self._lock:
            running = self._running.get(id(step))
            if running is None:
                running = self._running[id(step)] = _Running("", step, 0, self.clock())
            running.wait = wait
            running.wait_seen = self.clock()
            due = not self.live and wait.elapsed >= running.next_line
            if due:
                running.next_line = (math.floor(wait.elapsed / self.period) + 1) * self.period
        prefix = self._cluster_prefix(running.cluster)
        for line in wait.unknown:  # each once: the wait reports a line the first time only
            self._print(Text(prefix + unknown_line(step, line)))
        if due:
            self._print(Text(prefix + still_waiting(step, wait)))

    def ended(self, step: Step, state: str, seconds: float) -> None:
        with self._lock:
            running = self._running.pop(id(step), None)
        total = running.total if running is not None else 0
        line = Text(f"{state:>6}", style=ENDED_STYLE.get(state, ""))
        if running is not None and self._cluster_prefix(running.cluster):
            line.append(f" {running.cluster}", style="bold")
        number = f"{step.id:>{len(str(total))}}/{total}" if total else f"{step.id}."
        kind = f"{step.action.value:<{ACTION_WIDTH}}"
        line.append(
            f" {number} [{step.node_name or step.node}] {kind} {step.command}  ({seconds:.1f}s)"
        )
        self._print(line)

    # --- the live line ---------------------------------------------------------------------
    def _cluster_prefix(self, cluster: str) -> str:
        return f"{cluster} " if self.show_cluster and cluster else ""

    def line(self, width: int | None = None) -> Text:
        """The live line of each step running now, one per cluster (empty between steps),
        each fitted to ``width`` cells (``fit``) when given."""
        with self._lock:
            running = sorted(self._running.values(), key=lambda item: item.cluster)
            now = self.clock()
            separator = Text("\n", no_wrap=True, overflow="ellipsis")
            return separator.join(self._line(item, now, width) for item in running)

    def _line(self, running: _Running, now: float, width: int | None) -> Text:
        head = Text(self._cluster_prefix(running.cluster), style="bold")
        head.append(f"{running.step.id}/{running.total} " if running.total else "")
        head.append(f"[{running.step.node_name or running.step.node}]")
        name = Text(short_command(running.step), style="bold")
        wait = running.wait
        if wait is None:
            clock = Text(clock_text(now - running.started), style="dim")
        else:
            elapsed = wait.elapsed + (now - running.wait_seen)
            name.append(f" — waiting for {EXPECTED[wait.expect]}", style="")
            clock = Text(f"{clock_text(elapsed)} / {clock_text(wait.timeout)}", style="cyan")
        return fit(head, name, clock, width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.line(options.max_width)

    def __enter__(self) -> ApplyProgress:
        if self.live:
            self._display = Live(
                self,
                console=self.console,
                transient=True,
                refresh_per_second=REFRESHES_PER_SECOND,
                redirect_stdout=False,  # stdout holds JSON or markdown: never progress
                redirect_stderr=False,
            )
            self._display.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Clear the live line (a finished step's lines stay); safe to call twice."""
        display, self._display = self._display, None
        with self._lock:
            self._running.clear()
        if display is not None:
            display.stop()

    def _print(self, text: Text) -> None:
        # soft_wrap: a command in the line is never broken, whatever the width.
        self.console.print(text, soft_wrap=True, highlight=False)


def fit(head: Text, name: Text, clock: Text, width: int | None) -> Text:
    """``head name clock`` in at most ``width`` cells: the name is cut first (with an
    ellipsis, or dropped), then the head; the clock goes last, so a person on a narrow
    terminal still sees how long the step has waited against its timeout."""
    if width is not None:
        name = _cut(name, width - head.cell_len - clock.cell_len - 2)  # two spaces between
        if not name.cell_len:
            head = _cut(head, width - clock.cell_len - 1)
        clock = _cut(clock, width)
    text = Text(no_wrap=True, overflow="ellipsis")
    for part in (head, name, clock):
        if part.cell_len:
            if text.cell_len:
                text.append(" ")
            text.append_text(part)
    return text


def _cut(text: Text, cells: int) -> Text:
    """``text`` in at most ``cells`` cells, its end replaced by an ellipsis when cut."""
    if text.cell_len <= cells:
        return text
    if cells <= 0:
        return Text()
    cut = text.copy()
    cut.truncate(cells, overflow="ellipsis")
    return cut


def still_waiting(step: Step, wait: Waiting) -> str:
    """``[cms2] join 127.0.85.73: still waiting for In Sync (20s elapsed, timeout 10m)``."""
    elapsed = format_duration(timedelta(seconds=wait.elapsed))
    timeout = format_duration(timedelta(seconds=wait.timeout))
    return (
        f"[{step.node_name or step.node}] {short_command(step)}: still waiting for "
        f"{EXPECTED[wait.expect]} ({elapsed} elapsed, timeout {timeout})"
    )


def unknown_line(step: Step, line: str) -> str:
    """``[cms2] join 127.0.85.73: the node says 'X', which cms-reconciler does not know; ...``"""
    return (
        f"[{step.node_name or step.node}] {short_command(step)}: the node says '{line}', "
        "which cms-reconciler does not know; still waiting"
    )


@contextmanager
def progress_printer(
    console: Console, *, env: Mapping[str, str] | None = None, show_cluster: bool = False
) -> Iterator[ApplyProgress]:
    """The progress of one apply on ``console``: a live line when it is an interactive
    terminal, log lines otherwise; stopped (the live line cleared) when the block ends."""
    period = period_from(os.environ if env is None else env)
    with ApplyProgress(
        console, live=console.is_interactive, period=period, show_cluster=show_cluster
    ) as progress:
        yield progress
