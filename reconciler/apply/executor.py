"""Run a cluster plan exactly, proving each step finished before the next one starts.

The first surprise stops the apply: a rejected command, ``(Failed)``, a timeout, a lost
connection or a check that does not hold. Later steps do not run, the error names the node,
the step and the command with the last lines of output, and ``reconcile --plan`` from the
state left behind plans a safe continuation.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from reconciler.addresses import same_address
from reconciler.apply.journal import Journal
from reconciler.apply.outage import Mark, Outage, measure
from reconciler.apply.safety import plan_problems
from reconciler.apply.supervised import Decision, Gate, Preview, asks_before
from reconciler.apply.waits import (
    Clock,
    Waiting,
    read_status,
    wait_for_bridge,
    wait_for_operation,
)
from reconciler.desired.state import CertFile, DesiredCluster
from reconciler.errors import ApplyFailed, ReconcileError
from reconciler.live.models import MASTER_MARKER
from reconciler.mmp.models import BRIDGE_STATES, CertRole, ClusterStatus, LastCommand
from reconciler.mmp.parsers.backup import parse_backup_snapshot
from reconciler.mmp.parsers.certs import read_certs_answer
from reconciler.mmp.parsers.status import parse_cluster_status
from reconciler.mmp.session import CommandResult, MMPSession, Redactor
from reconciler.plan.actions import ACTIONS, DESTRUCTIVE, Action, command_line
from reconciler.plan.models import ClusterPlan, Step
from reconciler.plan.timeouts import step_limits
from reconciler.workdir import open_private_binary, private_dir

CERTS_COMMAND = command_line(Action.CERTS, files="").strip()  # the words before the files
STATUS_COMMAND = "database cluster status"
StepState = Literal["done", "failed", "not run"]
OutcomeState = Literal["done", "failed", "interrupted", "not run"]
"""A step's outcome: ``interrupted`` is the step that was running when apply was stopped
(Ctrl-C, SIGTERM); it was sent, and the node may still be carrying it out."""


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepOutcome(_Result):
    """What one step did: ``done`` (it changed the node as planned), ``failed`` (nothing
    after it ran), ``interrupted`` (running when apply was stopped) or ``not run``;
    ``seconds`` it took, and ``detail`` (a backup's name, or why it failed)."""

    id: int
    node: str
    action: str
    command: str
    state: OutcomeState
    seconds: float = 0.0
    detail: str | None = None

    @classmethod
    def of(
        cls, step: Step, state: OutcomeState, seconds: float = 0.0, detail: str | None = None
    ) -> StepOutcome:
        return cls(
            id=step.id,
            node=step.node,
            action=step.action.value,
            command=step.command,
            state=state,
            seconds=seconds,
            detail=detail,
        )

    @property
    def changed(self) -> bool:
        return self.state == "done"

    @property
    def failed(self) -> bool:
        return self.state == "failed"


class BackupRecord(_Result):
    """A backup a step took and downloaded: the node (``node`` its address), the backup's
    file on the node (``on_node``, as ``backup snapshot`` named it: what ``backup rollback``
    takes), and the local copy apply downloaded and checked (``local_copy``, under the state
    dir's ``backups/<cluster>/<node name>/``, with the node's ``.json`` beside it)."""

    node: str
    node_name: str
    step: int
    on_node: str
    local_copy: str


class ClusterOutcome(_Result):
    """One cluster's apply: every step's outcome in plan order, and the error that stopped
    it (``None`` when every step was done), the backups it took, and the outage it caused as
    measured (``apply.outage``; ``None``: not measured). ``interrupted``: stopped by Ctrl-C
    or SIGTERM (``error`` says where); not in the JSON, whose ``result`` says it
    (``apply.results``)."""

    name: str
    journal: str
    error: str | None = None
    backups: tuple[BackupRecord, ...] = ()
    outage: Outage | None = None
    steps: tuple[StepOutcome, ...] = ()
    interrupted: bool = Field(default=False, exclude=True)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def changed(self) -> bool:
        return any(step.changed for step in self.steps)


class Progress(Protocol):
    """Hears of each step as it runs, for a person watching; ``reconciler.progress`` renders
    it (a live line on a terminal, a line every few seconds in a CI log). Calls must not
    block: they happen between commands."""

    def started(self, cluster: str, step: Step, total: int) -> None:
        """``step`` (one of ``total`` in ``cluster``'s plan) is about to be sent."""

    def waiting(self, step: Step, wait: Waiting) -> None:
        """``step`` was sent and its node polled: the operation has not finished yet."""

    def ended(self, step: Step, state: StepState, seconds: float) -> None:
        """``step`` ended ``done`` or ``failed`` after ``seconds``."""


class NoProgress:
    """Tells nobody (tests, and callers without a person watching)."""

    def started(self, cluster: str, step: Step, total: int) -> None:
        pass

    def waiting(self, step: Step, wait: Waiting) -> None:
        pass

    def ended(self, step: Step, state: StepState, seconds: float) -> None:
        pass


def _cancellable(
    sleep: Callable[[float], None], cancel: threading.Event
) -> Callable[[float], None]:
    """``sleep``, then KeyboardInterrupt in the sleeping thread once ``cancel`` is set: a
    wait stops at its next poll (at most 2 s later, ``waits.MAX_INTERVAL``)."""

    def sleeping(seconds: float) -> None:
        sleep(seconds)
        if cancel.is_set():
            raise KeyboardInterrupt

    return sleeping


class Executor:
    """Executes one cluster's plan through the run's sessions."""

    def __init__(
        self,
        plan: ClusterPlan,
        desired: DesiredCluster,
        sessions: dict[str, MMPSession],
        *,
        journal: Journal,
        backup_dir: Path,
        progress: Progress | None = None,
        clock: Clock | None = None,
        redactor: Redactor | None = None,
        cancel: threading.Event | None = None,
        gate: Gate | None = None,
    ) -> None:
        self.plan = plan
        self.redactor = redactor or Redactor()
        self.desired = desired
        self.sessions = sessions
        self.journal = journal
        self.backup_dir = backup_dir
        self.progress: Progress = progress or NoProgress()
        self.clock = clock or Clock()
        self.master = desired.master.address
        self.timeouts = step_limits(desired.spec.timeouts)
        self.backed_up: set[str] = set()
        self.current_step: Step | None = None  # the step running now (for an interrupt)
        self.last_done: Step | None = None  # the last step that completed
        self.finished: list[StepOutcome] = []  # the steps that ended, so far (for an interrupt)
        self.backups: list[BackupRecord] = []
        self._began = 0.0  # when the running step began (time.monotonic)
        # For the measured outage (apply.outage): when the cluster's apply began, when each
        # step's command was sent, when each asynchronous step's end was verified.
        self.started_at = Mark.now()
        self.sent: dict[int, Mark] = {}
        self.verified: dict[int, Mark] = {}
        # Set on Ctrl-C (reconciler/interrupts.py): stop at the next checkpoint or poll.
        self.cancel = cancel or threading.Event()
        self.clock = Clock(now=self.clock.now, sleep=_cancellable(self.clock.sleep, self.cancel))
        self.marker_written = False
        self._reform = any(step.action is Action.INITIALIZE for step in plan.steps)
        # `apply --step` (apply.supervised): asked before each step that changes a node.
        self.gate = gate

    def run_steps(self) -> ClusterOutcome:
        self.started_at = Mark.now()
        journal = str(self.journal.path)
        problems = plan_problems(self.plan, self.desired)
        if problems:
            refused = "the plan breaks the safety rules; nothing was sent:\n  " + "\n  ".join(
                f"step {step.id} ({step.action.value} on {step.node}): {why}"
                for step, why in problems
            )
            self.journal.write("plan.refused", error=refused)
            return ClusterOutcome(
                name=self.plan.name,
                journal=journal,
                error=refused,
                outage=self._outage(),
                steps=tuple(StepOutcome.of(step, "not run") for step in self.plan.steps),
            )
        steps = self.finished
        error: str | None = None
        for step in self.plan.steps:
            if error is not None:
                steps.append(StepOutcome.of(step, "not run"))
                continue
            self._checkpoint()  # between steps: current_step is None, "after" the last done
            self._supervise(step)  # `--step`: a person says run it, or stop as Ctrl-C does
            self.progress.started(self.plan.name, step, len(self.plan.steps))
            self.journal.write("step.start", step=step.model_dump(mode="json"))
            # Only now: Ctrl-C before this line stopped the apply *after* the last step done.
            self.current_step = step
            began = self._began = time.monotonic()
            try:
                detail = self._execute(step)
            except KeyboardInterrupt:
                self.journal.write("step.interrupted", id=step.id, command=step.command)
                raise
            except Exception as exception:
                seconds = time.monotonic() - began
                failure = self._failure(step, exception)
                error = str(failure)
                steps.append(StepOutcome.of(step, "failed", seconds, failure.cause))
                self.journal.write("step.failed", id=step.id, seconds=seconds, error=error)
                self.progress.ended(step, "failed", seconds)
                continue
            seconds = time.monotonic() - began
            self.current_step, self.last_done = None, step
            steps.append(StepOutcome.of(step, "done", seconds, detail))
            self.journal.write("step.done", id=step.id, seconds=seconds, detail=detail)
            self.progress.ended(step, "done", seconds)
        if error is None:
            self._checkpoint()  # asked during the last step: say so, do not verify
        return ClusterOutcome(
            name=self.plan.name,
            journal=journal,
            error=error,
            backups=tuple(self.backups),
            outage=self._outage(),
            steps=tuple(steps),
        )

    def interrupted_outcome(self, where: str) -> ClusterOutcome:
        """The outcome of a run stopped by KeyboardInterrupt (``where``: the words saying
        where): the steps that ended, the running one ``interrupted``, the rest ``not run``."""
        steps = list(self.finished)
        running = self.current_step
        if running is not None:
            seconds = time.monotonic() - self._began
            steps.append(StepOutcome.of(running, "interrupted", seconds))
        steps += [StepOutcome.of(step, "not run") for step in self.plan.steps[len(steps) :]]
        return ClusterOutcome(
            name=self.plan.name,
            journal=str(self.journal.path),
            error=f"interrupted: {where}",
            backups=tuple(self.backups),
            outage=self._outage(),
            steps=tuple(steps),
            interrupted=True,
        )

    def _outage(self) -> Outage:
        """The outage so far, measured up to now (``apply.outage``)."""
        return measure(
            self.plan,
            began=self.started_at,
            sent=self.sent,
            verified=self.verified,
            stopped=Mark.now(),
        )

    def _supervise(self, step: Step) -> None:
        """Before a step that changes a node, in a supervised apply: show the person the
        node's status, read now, and the step; on "stop", the cancel event is set and the
        checkpoint stops the apply before anything of the step is sent (Ctrl-C's path).
        Every answer is in the journal."""
        if self.gate is None or not asks_before(step):
            return
        preview = self._preview(step)
        decision: Decision | None = None
        try:
            decision = self.gate(preview)
        finally:  # a Ctrl-C at the question is recorded too
            self.journal.write(
                "step.asked",
                id=step.id,
                node=step.node,
                command=step.command,
                status=preview.status.status_text if preview.status else preview.problem,
                answers=list(decision.answers) if decision else None,
                decision=("run" if decision.run else "stop") if decision else "interrupted",
            )
        if not decision.run:
            self.cancel.set()
        self._checkpoint()

    def _preview(self, step: Step) -> Preview:
        """The step and its node's ``database cluster status``, read now; a status that
        cannot be read or understood is shown as such (the step itself then judges it)."""
        output, status, problem = "", None, None
        try:
            output = self._session(step).run(STATUS_COMMAND).output
            status = parse_cluster_status(output)
        except Exception as error:  # shown to the person; never fatal here
            problem = self.redactor.redact(str(error)) or type(error).__name__
        return Preview(
            cluster=self.plan.name,
            step=step,
            total=len(self.plan.steps),
            output=self.redactor.redact(output),
            status=status,
            problem=problem,
        )

    def _checkpoint(self) -> None:
        """Where a stop asked for (Ctrl-C) may be honoured: between steps, and just before a
        step changes anything on a node, so nothing of the step is sent."""
        if self.cancel.is_set():
            raise KeyboardInterrupt

    def _failure(self, step: Step, error: Exception) -> ApplyFailed:
        if isinstance(error, ApplyFailed):
            return error
        if isinstance(error, ReconcileError):
            return ApplyFailed(step, self.redactor.redact(str(error)))
        return ApplyFailed(
            step, f"unexpected {type(error).__name__}: {self.redactor.redact(str(error))}"
        )

    # --- one step ---------------------------------------------------------------------
    def _session(self, step: Step) -> MMPSession:
        session = self.sessions.get(step.node)
        if session is None:
            raise ApplyFailed(step, f"no session for {step.node}")
        return session

    def _execute(self, step: Step) -> str | None:
        if step.action in DESTRUCTIVE and step.node not in self.backed_up:
            raise ApplyFailed(step, "no backup of this node was taken in this apply (SPEC §6.2)")
        return STEP_HANDLERS[step.action](self, step)

    def _record(self, step: Step, result: CommandResult) -> None:
        self.journal.write(
            "command",
            id=step.id,
            node=step.node,
            command=result.command,
            output=result.output,
            seconds=round(result.elapsed, 3),
        )

    def _backup(self, step: Step) -> str:
        session = self._session(step)
        self._checkpoint()
        result = session.run(step.command)
        self._record(step, result)
        if result.rejection:
            raise ApplyFailed(step, f"the node refused: {result.rejection}", self._tail(result))
        snapshot = parse_backup_snapshot(result.output, step.backup_name)
        folder = private_dir(self.backup_dir / self.plan.name / step.node_name)
        files = {}
        for name in (snapshot.file, f"{snapshot.name}.json"):
            local = folder / name
            # Owner-only before a byte arrives: a backup holds the node's private keys.
            open_private_binary(local).close()
            remote_size = session.download(name, local)
            local_size = local.stat().st_size
            if local_size == 0 or local_size != remote_size:
                raise ApplyFailed(
                    step, f"downloaded {name} is {local_size} bytes; the node has {remote_size}"
                )
            files[name] = {
                "path": str(local),
                "size": local_size,
                "sha256": hashlib.sha256(local.read_bytes()).hexdigest(),
            }
        self.journal.write("backup", id=step.id, node=step.node, files=files)
        self.backed_up.add(step.node)
        local_copy = str(folder / snapshot.file)
        self.backups.append(
            BackupRecord(
                node=step.node,
                node_name=step.node_name,
                step=step.id,
                on_node=snapshot.file,
                local_copy=local_copy,
            )
        )
        return local_copy

    def _upload(self, step: Step) -> str:
        upload = step.upload
        if upload is None:
            raise ApplyFailed(step, "upload step without a file")
        wanted = self._desired_file(step.node, CertRole(upload.role))
        if wanted.sha256 != upload.sha256 or wanted.remote_name != upload.remote_name:
            raise ApplyFailed(step, "the desired file changed since the plan was made")
        session = self._session(step)
        self._checkpoint()
        session.write_file(upload.remote_name, wanted.upload_bytes)
        back = session.read_file(upload.remote_name)
        digest = hashlib.sha256(back).hexdigest() if back is not None else "missing"
        if digest != upload.sha256:
            raise ApplyFailed(
                step, f"read back {upload.remote_name}: sha256 {digest} != {upload.sha256}"
            )
        return f"{upload.remote_name} sha256:{digest}"

    def _desired_file(self, address: str, role: CertRole) -> CertFile:
        """What the desired state puts on a node, or on a connected call bridge (the
        cluster's client files, ``DesiredCluster.bridge_files``)."""
        if self.desired.bridge(address) is not None:
            return next(file for file in self.desired.bridge_files() if file.role is role)
        return self.desired.node(address).bundle.file(role)

    def _certs(self, step: Step) -> None:
        session = self._session(step)
        status = read_status(session)
        if self.desired.bridge(step.node) is not None:
            # A connected call bridge has no database of its own to disable (reference §1.7).
            if status.transitional or status.state not in BRIDGE_STATES or status.members:
                raise ApplyFailed(
                    step, f"the call bridge shows {status.status_text}, not a connected bridge"
                )
        elif status.state != "Disabled" or status.transitional:
            raise ApplyFailed(step, f"the node is {status.status_text}, not Disabled")
        self._checkpoint()
        result = session.run(step.command)
        self._record(step, result)
        # Issue 24: a refusal fails the step; any other words are recorded, and the
        # post-condition (the status names the uploaded files) decides.
        answer = read_certs_answer(result.output)
        if answer.refusal is not None:
            hint = ""
            if "clustering enabled" in result.output:
                hint = (
                    " (the node reports Disabled yet refuses as clustered, as S1 shows once: "
                    "run 'database cluster remove' on it by hand, then plan again)"
                )
            raise ApplyFailed(step, f"the node refused: {answer.refusal}{hint}", self._tail(result))
        for line in answer.other:
            self._unknown(step, step.command, line)
        wanted = step.command.split()[len(CERTS_COMMAND.split()) :]
        after = read_status(session)
        refs = [getattr(after.certificates, role.value) for role in CertRole]
        configured = [ref.file if ref else None for ref in refs]
        # The three-file form configures the client key, the client certificate and the CA.
        shown = configured if len(wanted) == len(CertRole) else configured[2:]
        if shown != wanted:
            said = "" if answer.updated else " and did not say 'Certificates updated'"
            raise ApplyFailed(
                step,
                f"after the command the node's status names {configured}, not the uploaded "
                f"{wanted}{said}",
                self._tail(result),
            )

    def _unknown(self, step: Step, command: str, line: str) -> None:
        """Record a line the node printed that cms-reconciler does not know (issue 24)."""
        self.journal.write("device.unknown", id=step.id, node=step.node, command=command, line=line)

    def _localnode(self, step: Step) -> str:
        """``database cluster localnode <interface>``: no (Y/n) and no output in any source
        (reference §1.9), so it is judged by its post-condition: the status read back shows
        the interface. A node that already uses another interface is left alone."""
        wanted = step.command.split()[-1]
        session = self._session(step)
        status = read_status(session)
        if status.transitional:
            raise ApplyFailed(step, f"the node is {status.status_text}; not changing it now")
        if status.interface == wanted:
            return f"Interface {wanted} (already set)"
        if status.interface is not None:
            raise ApplyFailed(
                step,
                f"the node now uses interface {status.interface}; a working interface is not "
                "changed: plan again",
            )
        self._checkpoint()
        result = session.run(step.command)
        self._record(step, result)
        if result.rejection:
            raise ApplyFailed(step, f"the node refused: {result.rejection}", self._tail(result))
        after = read_status(session)
        if after.interface != wanted:
            raise ApplyFailed(
                step,
                f"the node's status shows interface {after.interface or 'none'} after it, "
                f"not {wanted}",
                self._tail(result),
            )
        return f"Interface {wanted}"

    def _connect(self, step: Step) -> str:
        """``database cluster connect <master>`` on a connected call bridge: nothing says what
        it prints (reference §1.7), so a refusal fails it and the post-condition decides:
        the bridge's status shows the master as its ``Node in use``."""
        session = self._session(step)
        status = read_status(session)
        if status.transitional or status.state not in BRIDGE_STATES or status.members:
            raise ApplyFailed(
                step, f"the call bridge shows {status.status_text}, not a connected bridge"
            )
        # As for a join: the master serves, with the desired files (the bridge's new client
        # certificate chains to the CA the master now runs).
        self._check_master_ready(step)
        master = self.master
        self._checkpoint()
        result = session.run(step.command)
        self._record(step, result)
        if result.rejection:
            raise ApplyFailed(step, f"the node refused: {result.rejection}", self._tail(result))
        for line in result.output.splitlines():
            if line.strip():
                self._unknown(step, step.command, line.strip())
        after = wait_for_bridge(
            session,
            step.command,
            master=master,
            timeout=self.timeouts[step.action],
            clock=self.clock,
            on_poll=lambda wait: self._polled(step, wait),
        )
        self.verified[step.id] = Mark.now()  # the bridge's database is back (apply.outage)
        return f"Node in use: {after.node_in_use}"

    def _tail(self, result: CommandResult) -> str:
        return self.redactor.redact(result.tail())

    def _operation(self, step: Step) -> str:
        """An asynchronous step (remove, initialize, join): sent, then waited for."""
        session = self._session(step)
        previous = read_status(session)
        if step.action is Action.JOIN:
            self._check_master_ready(step)
        checked = False
        if step.action is Action.REMOVE and self._reform and not self.marker_written:
            checked = self._mark_master(step)
        leaves_or_forms = step.action is Action.INITIALIZE or (
            step.action is Action.REMOVE and step.node == self.master
        )
        if leaves_or_forms and not checked:
            self._check_no_other_master(step)
        try:
            status = self._run_and_wait(step, session, previous.last_command)
            self.verified[step.id] = Mark.now()  # the poll that saw it done has just answered
        except ReconcileError:
            if step.action is Action.REMOVE and step.node == self.master and self.marker_written:
                # The master did not leave: it is still the master, the marker has no purpose.
                with suppress(ReconcileError):
                    self._session(step).remove_file(MASTER_MARKER)
                    self.journal.write("marker.removed", node=step.node, why="remove failed")
            raise
        if step.action is Action.INITIALIZE:
            try:
                session.remove_file(MASTER_MARKER)
                self.journal.write("marker.removed", node=step.node)
            except ReconcileError as error:
                self.journal.write("marker.remove_failed", node=step.node, error=str(error))
        return status.status_text or ""

    def _run_and_wait(
        self, step: Step, session: MMPSession, previous: LastCommand | None
    ) -> ClusterStatus:
        self._checkpoint()
        # Sent from here on (a lost connection may have sent it): the outage may begin.
        self.sent[step.id] = Mark.now()
        result = session.run_confirmed(step.command)
        self._record(step, result)
        if not result.confirmed or result.rejection:
            del self.sent[step.id]  # refused: the node did nothing
            reason = result.rejection or "the node did not ask for confirmation"
            raise ApplyFailed(step, f"the node refused: {reason}", self._tail(result))
        expect = step.expect or ACTIONS[step.action].expect
        assert expect is not None  # every asynchronous action has one (plan.actions)
        return wait_for_operation(
            session,
            step.command,
            expect,
            master=self.master,
            timeout=self.timeouts[step.action],
            clock=self.clock,
            previous=previous,
            on_poll=lambda wait: self._polled(step, wait),
        )

    def _polled(self, step: Step, wait: Waiting) -> None:
        for line in wait.unknown:
            self._unknown(step, "database cluster status", line)
        self.progress.waiting(step, wait)

    def _mark_master(self, step: Step) -> bool:
        """Before a re-form's first remove: record that the desired master is the last master.

        Only when that is true now: it reports itself master, or (S7) still uses itself, and
        no other node reports itself master. Returns whether the other nodes were asked.
        """
        master_session = self.sessions.get(self.master)
        if master_session is None:
            return False
        status = read_status(master_session)
        if status.role != "master" and not same_address(status.node_in_use, self.master):
            return False
        self._check_no_other_master(step)
        self._write_marker(step, master_session)
        self.marker_written = True
        return True

    def _write_marker(self, step: Step, session: MMPSession) -> None:
        """Proof, while every node is Disabled, that the master's data is the newest."""
        marker = json.dumps(
            {
                "cluster": self.desired.name,
                "node": self.master,
                "time": datetime.now(UTC).isoformat(),
            }
        ).encode()
        self._checkpoint()
        session.write_file(MASTER_MARKER, marker)
        if session.read_file(MASTER_MARKER) != marker:
            raise ApplyFailed(step, f"could not write {MASTER_MARKER} on the master")
        self.journal.write("marker.written", node=step.node)

    def _check_no_other_master(self, step: Step) -> None:
        """Before the master leaves or forms a new cluster, nobody else may have promoted."""
        for address, session in self.sessions.items():
            if address == self.master or self.desired.bridge(address) is not None:
                continue  # a call bridge has no database to promote
            status = read_status(session)
            if status.role == "master" and status.state in ("Enabled", "Error"):
                raise ApplyFailed(
                    step,
                    f"{address} now reports itself master; its data may be newer. Stopped "
                    "before anything else changed: plan again",
                )

    def _check_master_ready(self, step: Step) -> None:
        """SPEC §6.5: replicas join (and call bridges connect to) only a master that reports
        Enabled, Connected Master, running the desired certificate files."""
        master = self.sessions.get(self.master)
        if master is None:
            raise ApplyFailed(step, "no session to the desired master")
        status = read_status(master)
        if status.transitional or status.state != "Enabled" or status.role != "master":
            raise ApplyFailed(
                step, f"the desired master {self.master} is {status.status_text}, not the master"
            )
        refs = [getattr(status.certificates, role.value) for role in CertRole]
        wanted = self.desired.master.bundle.remote_names()
        if [ref.file if ref else None for ref in refs] != wanted:
            raise ApplyFailed(step, "the desired master does not run the desired certificates")
        if any(ref is not None and (ref.expired or ref.not_yet_valid) for ref in refs):
            raise ApplyFailed(step, "the desired master's certificates are not within validity")


STEP_HANDLERS: dict[Action, Callable[[Executor, Step], str | None]] = {
    Action.BACKUP: Executor._backup,
    Action.UPLOAD: Executor._upload,
    Action.REMOVE: Executor._operation,
    Action.CERTS: Executor._certs,
    Action.LOCALNODE: Executor._localnode,
    Action.INITIALIZE: Executor._operation,
    Action.JOIN: Executor._operation,
    Action.CONNECT: Executor._connect,
}
"""How the executor runs each step kind (its detail for the outcome, or None); a test
checks that every ``Action`` has one, and that the asynchronous ones are waited for."""
