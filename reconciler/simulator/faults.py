"""Fault specs: one syntax for scenario files, ``reconcile sim --fault`` and tests.

A fault matrix case is only worth having if a person can replay it by hand, so every fault
the tests inject is a line of text::

    NODE:KIND[:ARG][@WHEN]

``NODE`` is a node's name in the cluster file (``*``: every node). Without ``@WHEN`` the
fault holds from the start; with it, the fault fires once, as a command arrives:
``@N`` as the node's Nth command line arrives, ``@COMMAND`` as the node receives a command
line starting with COMMAND, ``@OTHER:COMMAND`` as node OTHER does. A fault fires before
the command runs, so ``cms2:down@database cluster remove`` means the remove never ran.

The kinds are listed in ``KINDS`` (and shown by ``reconcile sim --help``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final, Protocol

from reconciler.errors import ConfigError
from reconciler.simulator import commands

if TYPE_CHECKING:
    from reconciler.simulator.state import SimNode

OPERATIONS: Final = tuple(commands.OPERATIONS)
"""The asynchronous operations a fault can fail, hang or slow down."""
EVERY_NODE: Final = "*"
RESTART_SECONDS: Final = 1.0

KINDS: Final[dict[str, str]] = {
    "down[:SECONDS]": "the node is down: SSH refused, peers see it Disconnected; "
    "back after SECONDS if given",
    "restart[:SECONDS]": "the node's SSH service restarts: connections cut, refused for "
    f"SECONDS (default {RESTART_SECONDS:g}); its database and running operations go on",
    "disconnect[:before|after]": "drop the SSH connection once (needs @WHEN on the node's "
    "own commands); before: the command is not run; after (default): it ran, the answer is lost",
    "fail:OPERATION": "OPERATION (remove, initialize, join, upgrade_schema) ends (Failed)",
    "hang:OPERATION": "OPERATION never finishes: the node stays in its transitional status",
    "slow:OPERATION=SECONDS": "OPERATION takes SECONDS on this node",
    "delay:SECONDS": "every command waits SECONDS before answering",
    "partition:OTHER": "cut the database network between the node and OTHER (SSH still works)",
    "refuse-get:GLOB": "SFTP downloads of files matching GLOB fail",
    "refuse-put:GLOB": "SFTP uploads of files matching GLOB fail",
    "corrupt-put:GLOB": "files matching GLOB uploaded over SFTP land damaged",
    "say-certs:TEXT": "database cluster certs also prints the line TEXT (e.g. 'SUCCESS: ...'), "
    "which the reference never shows after certs",
    "say-status:OPERATION=TEXT": "while OPERATION runs, the Status line reads TEXT ({seconds}: "
    "the seconds since it started) instead of the simulator's choice",
    "say-member:OPERATION=TEXT": "while OPERATION runs, the node lists itself as "
    "'<address> (me) : TEXT'",
    "password-expired[:USER]": "USER's MMP password has expired on the node (default: every "
    "account): the login is accepted, then a new password is asked for instead of the prompt",
}
SYNTAX: Final = "NODE:KIND[:ARG][@WHEN]"
WHEN_HELP: Final = (
    "WHEN: N (as the node's Nth command arrives), COMMAND (as the node receives a command "
    "starting with COMMAND) or OTHER:COMMAND (as node OTHER does)"
)


@dataclass(frozen=True)
class Trigger:
    """When a fault fires: as ``node`` receives its ``count``-th command, or one with ``prefix``."""

    node: str
    count: int | None = None
    prefix: str | None = None

    def matches(self, node: str, number: int, command: str) -> bool:
        if node != self.node:
            return False
        if self.count is not None:
            return number == self.count
        return self.prefix is not None and command.startswith(self.prefix)

    def describe(self) -> str:
        if self.count is not None:
            return f"as {self.node}'s command {self.count} arrived"
        return f"as {self.node} received '{self.prefix}'"


@dataclass(frozen=True)
class FaultSpec:
    """One parsed fault: what happens to which node, and when."""

    text: str
    node: str
    kind: str
    operation: str | None = None
    seconds: float | None = None
    stage: str = "after"
    other: str | None = None
    pattern: str | None = None
    when: Trigger | None = None
    words: str | None = None  # what a say-* fault makes the node print


def parse_fault(text: str, nodes: Sequence[str], *, node: str | None = None) -> FaultSpec:
    """Parse ``NODE:KIND[:ARG][@WHEN]`` (or ``KIND[:ARG][@WHEN]`` when ``node`` is given).

    ``nodes`` are the cluster's node names: a spec naming another node is refused here,
    before the simulator serves anything.
    """
    body, at, when_text = text.strip().partition("@")
    parts = body.split(":", 2 if node is None else 1)
    if node is None:
        if len(parts) < 2:
            raise ConfigError(f"write {SYNTAX}, e.g. cms2:fail:join")
        node, parts = parts[0].strip(), parts[1:]
        if node != EVERY_NODE:
            _known(node, nodes)
    kind = parts[0].strip()
    arg = parts[1].strip() if len(parts) > 1 else None
    when = _trigger(when_text.strip(), node, nodes) if at else None
    spec = _fault(text.strip(), node, kind, arg, when, nodes)
    if spec.kind == "disconnect":
        if when is None:
            raise ConfigError("disconnect needs @WHEN, e.g. cms2:disconnect@3")
        if when.node != node:
            raise ConfigError(
                "disconnect fires on the node's own commands; to cut another node's "
                "connections write OTHER:restart:0@..."
            )
    return spec


def _known(name: str, nodes: Sequence[str]) -> None:
    if name not in nodes:
        raise ConfigError(f"no node named {name!r}; nodes: {', '.join(nodes)}")


def _trigger(text: str, node: str, nodes: Sequence[str]) -> Trigger:
    if not text:
        raise ConfigError(f"nothing after '@'; {WHEN_HELP}")
    if text.isdigit():
        if node == EVERY_NODE:
            raise ConfigError("@N counts one node's commands: name the node, not '*'")
        if int(text) < 1:
            raise ConfigError("@N counts from 1")
        return Trigger(node, count=int(text))
    head, colon, rest = text.partition(":")
    if colon and head.strip() in nodes:
        return Trigger(head.strip(), prefix=rest.strip())
    if node == EVERY_NODE:
        raise ConfigError("with '*', write @OTHER:COMMAND: which node's command fires it")
    return Trigger(node, prefix=text)


def _number(arg: str | None, kind: str) -> float:
    try:
        value = float(arg or "")
    except ValueError:
        raise ConfigError(f"{kind} takes seconds, e.g. {kind}:1.5 (got {arg!r})") from None
    if value < 0 or value != value or value == float("inf"):
        raise ConfigError(f"{kind} takes a finite number of seconds >= 0 (got {arg!r})")
    return value


def _operation(arg: str | None, kind: str) -> str:
    if arg not in OPERATIONS:
        raise ConfigError(
            f"{kind} takes an operation: {', '.join(OPERATIONS)} (got {arg!r}), e.g. {kind}:join"
        )
    return arg


_ArgumentParser = Callable[[FaultSpec, str | None, Sequence[str]], FaultSpec]
"""Completes a fault from its ARG: (the spec without it, ARG, the cluster's node names)."""


def _optional_seconds(spec: FaultSpec, arg: str | None, nodes: Sequence[str]) -> FaultSpec:
    return replace(spec, seconds=None if arg is None else _number(arg, spec.kind))


def _seconds(spec: FaultSpec, arg: str | None, nodes: Sequence[str]) -> FaultSpec:
    return replace(spec, seconds=_number(arg, spec.kind))


def _stage(spec: FaultSpec, arg: str | None, nodes: Sequence[str]) -> FaultSpec:
    stage = arg or "after"
    if stage not in ("before", "after"):
        raise ConfigError(f"disconnect takes 'before' or 'after' (got {arg!r})")
    return replace(spec, stage=stage)


def _operation_arg(spec: FaultSpec, arg: str | None, nodes: Sequence[str]) -> FaultSpec:
    return replace(spec, operation=_operation(arg, spec.kind))


def _slow(spec: FaultSpec, arg: str | None, nodes: Sequence[str]) -> FaultSpec:
    operation, _, duration = (arg or "").partition("=")
    return replace(
        spec,
        operation=_operation(operation, spec.kind),
        seconds=_number(duration, "slow:OPERATION="),
    )


def _other_node(spec: FaultSpec, arg: str | None, nodes: Sequence[str]) -> FaultSpec:
    if arg is None:
        raise ConfigError("partition takes the other node, e.g. cms3:partition:cms1")
    _known(arg, nodes)
    if arg == spec.node:
        raise ConfigError("a node cannot be partitioned from itself")
    return replace(spec, other=arg)


def _pattern(spec: FaultSpec, arg: str | None, nodes: Sequence[str]) -> FaultSpec:
    return replace(spec, pattern=arg or "*")


def _words(spec: FaultSpec, arg: str | None, nodes: Sequence[str]) -> FaultSpec:
    if not arg:
        raise ConfigError(f"{spec.kind} takes the text to print, e.g. say-certs:SUCCESS: done")
    return replace(spec, words=arg)


def _operation_words(spec: FaultSpec, arg: str | None, nodes: Sequence[str]) -> FaultSpec:
    operation, _, words = (arg or "").partition("=")
    if not words.strip():
        raise ConfigError(f"write {spec.kind}:OPERATION=TEXT, e.g. {spec.kind}:join=Syncing data")
    return replace(spec, operation=_operation(operation.strip(), spec.kind), words=words.strip())


_ARGUMENTS: Final[dict[str, _ArgumentParser]] = {
    "down": _optional_seconds,
    "restart": _optional_seconds,
    "disconnect": _stage,
    "fail": _operation_arg,
    "hang": _operation_arg,
    "slow": _slow,
    "delay": _seconds,
    "partition": _other_node,
    "refuse-get": _pattern,
    "refuse-put": _pattern,
    "corrupt-put": _pattern,
    "say-certs": _words,
    "say-status": _operation_words,
    "say-member": _operation_words,
    "password-expired": _pattern,
}
"""Each fault kind (as in ``KINDS``) and how its ARG is read."""


def _fault(
    text: str,
    node: str,
    kind: str,
    arg: str | None,
    when: Trigger | None,
    nodes: Sequence[str],
) -> FaultSpec:
    parse = _ARGUMENTS.get(kind)
    if parse is None:
        names = ", ".join(key.split(":")[0].split("[")[0] for key in KINDS)
        raise ConfigError(f"unknown fault kind {kind!r}; kinds: {names}")
    return parse(FaultSpec(text, node, kind, when=when), arg, nodes)


def parse_faults(texts: Iterable[str], nodes: Sequence[str], *, source: str) -> list[FaultSpec]:
    """Parse command-line specs; errors name ``source`` (e.g. ``--fault``) and the spec."""
    specs = []
    for text in texts:
        try:
            specs.append(parse_fault(text, nodes))
        except ConfigError as error:
            raise ConfigError(f"{source} {text!r}: {error}") from None
    return specs


def scenario_faults(value: object, nodes: Sequence[str], *, path: str) -> list[FaultSpec]:
    """The ``faults:`` mapping of a scenario file: node name -> a spec or a list of specs."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise ConfigError(
            f"{path}: faults: a mapping of node name to fault specs, e.g. "
            "'faults: {cms2: [fail:join]}'"
        )
    specs = []
    for name, entries in value.items():
        if str(name) not in nodes:
            raise ConfigError(f"{path}: faults: no node named {name!r}; nodes: {', '.join(nodes)}")
        items = [entries] if isinstance(entries, str) else entries
        if not isinstance(items, list):
            raise ConfigError(f"{path}: faults.{name}: a fault spec or a list of them")
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise ConfigError(
                    f"{path}: faults.{name}[{index}]: a fault spec is text like 'fail:join'"
                )
            try:
                specs.append(parse_fault(item, nodes, node=str(name)))
            except ConfigError as error:
                raise ConfigError(f"{path}: faults.{name}[{index}] {item!r}: {error}") from None
    return specs


class _Named(Protocol):
    """A node's setup, by the one thing the engine reads of it."""

    @property
    def name(self) -> str: ...


class FaultTarget(Protocol):
    """What a fault acts on, node by node (``service.SimulatedCluster`` is one): the service
    runs the engine, so the engine names the service by what it calls, not by its class."""

    @property
    def setups(self) -> Sequence[_Named]: ...
    def note_fault(self, key: str, text: str) -> None: ...
    def set_down(self, key: str, down: bool = True) -> None: ...
    def stop_serving(self, key: str) -> None: ...
    def resume_serving(self, key: str) -> None: ...
    def disconnect_on(self, key: str, command_prefix: str, *, stage: str) -> None: ...
    def fail_operation(self, key: str, operation: str) -> None: ...
    def hang_operation(self, key: str, operation: str) -> None: ...
    def slow_operation(self, key: str, operation: str, seconds: float | None) -> None: ...
    def set_delay(self, key: str, seconds: float) -> None: ...
    def partition(self, a: str, b: str) -> None: ...
    def refuse_sftp(self, key: str, operation: str, pattern: str) -> None: ...
    def say(self, key: str, where: str, text: str | None) -> None: ...
    def corrupt_uploads(self, key: str, *, pattern: str) -> None: ...
    def expire_password(self, key: str, username: str) -> None: ...


class FaultEngine:
    """Holds a cluster's armed faults and fires them as commands arrive.

    Faults without a trigger act at once; triggered ones wait in ``armed`` until their
    command comes. Timers (``down:SECONDS``, ``restart``) are cancelled when the cluster stops.
    """

    def __init__(self, cluster: FaultTarget) -> None:
        self._cluster = cluster
        self._lock = threading.Lock()
        self._armed: list[FaultSpec] = []
        self._counts: dict[str, int] = {}
        self._timers: list[threading.Timer] = []

    def install(self, specs: Iterable[FaultSpec]) -> None:
        for spec in specs:
            if spec.when is None:
                self._act(spec, receiving=None, command=None)
            else:
                with self._lock:
                    self._armed.append(spec)

    def on_command(self, node: SimNode, command: str) -> bool:
        """Fire the faults this command triggers; True when its connection must drop now."""
        command = command.strip()
        if not command:
            return False
        with self._lock:
            number = self._counts.get(node.name, 0) + 1
            self._counts[node.name] = number
            fired = [
                spec
                for spec in self._armed
                if spec.when is not None and spec.when.matches(node.name, number, command)
            ]
            self._armed = [spec for spec in self._armed if spec not in fired]
        drop = False
        for spec in fired:
            drop = self._act(spec, receiving=node, command=command) or drop
        return drop

    def cancel(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, []
            self._armed.clear()
        for timer in timers:
            timer.cancel()

    def _after(self, seconds: float, function: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, function)
        timer.daemon = True
        with self._lock:
            self._timers = [t for t in self._timers if t.is_alive()]
            self._timers.append(timer)
        timer.start()

    def _targets(self, spec: FaultSpec) -> list[str]:
        if spec.node == EVERY_NODE:
            return [setup.name for setup in self._cluster.setups]
        return [spec.node]

    def _act(self, spec: FaultSpec, *, receiving: SimNode | None, command: str | None) -> bool:
        """Make ``spec`` true now; True when the receiving node's connection must drop."""
        if receiving is not None and spec.when is not None:
            self._cluster.note_fault(receiving.name, f"{spec.text} fired {spec.when.describe()}")
        actions: dict[str, Callable[[str, FaultSpec, str | None], bool]] = {
            "down": self._down,
            "restart": self._restart,
            "disconnect": self._disconnect,
            "fail": self._fail,
            "hang": self._hang,
            "slow": self._slow,
            "delay": self._delay,
            "partition": self._partition,
            "refuse-get": self._refuse,
            "refuse-put": self._refuse,
            "corrupt-put": self._corrupt,
            "say-certs": self._say,
            "say-status": self._say,
            "say-member": self._say,
            "password-expired": self._expire_password,
        }
        act = actions.get(spec.kind)
        drop = False
        for name in self._targets(spec):
            here = receiving is not None and receiving.name == name
            if act is not None and act(name, spec, command):
                drop = drop or here
        return drop

    # Each action makes one kind of fault true on node ``name``; True when it cuts the node's
    # connections (so the one that received the triggering command must drop).
    def _down(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        cluster = self._cluster
        cluster.set_down(name)
        if spec.seconds is not None:
            self._after(spec.seconds, functools.partial(cluster.set_down, name, False))
        return True

    def _restart(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        seconds = RESTART_SECONDS if spec.seconds is None else spec.seconds
        self._cluster.stop_serving(name)
        self._after(seconds, functools.partial(self._cluster.resume_serving, name))
        return True

    def _disconnect(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        assert command is not None
        self._cluster.disconnect_on(name, command, stage=spec.stage)
        return False

    def _fail(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        assert spec.operation is not None
        self._cluster.fail_operation(name, spec.operation)
        return False

    def _hang(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        assert spec.operation is not None
        self._cluster.hang_operation(name, spec.operation)
        return False

    def _slow(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        assert spec.operation is not None
        assert spec.seconds is not None
        self._cluster.slow_operation(name, spec.operation, spec.seconds)
        return False

    def _delay(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        assert spec.seconds is not None
        self._cluster.set_delay(name, spec.seconds)
        return False

    def _partition(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        assert spec.other is not None
        self._cluster.partition(name, spec.other)
        return False

    def _refuse(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        self._cluster.refuse_sftp(name, spec.kind.removeprefix("refuse-"), spec.pattern or "*")
        return False

    def _say(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        where = spec.kind.removeprefix("say-")
        if spec.operation is not None:
            where = f"{where}:{spec.operation}"
        self._cluster.say(name, where, spec.words)
        return False

    def _corrupt(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        self._cluster.corrupt_uploads(name, pattern=spec.pattern or "*")
        return False

    def _expire_password(self, name: str, spec: FaultSpec, command: str | None) -> bool:
        self._cluster.expire_password(name, spec.pattern or "*")
        return False
