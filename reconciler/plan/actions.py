"""The step kinds and what each one is: one table (``ACTIONS``) that the planner, the safety
check, the executor and the timeouts read.

A new step kind is a member of ``Action`` and a row of ``ACTIONS`` (its command, whether it
needs a backup first, whether the executor waits for it, for what and how long); the
executor's ``STEP_HANDLERS`` and each renderer's own labels then fail a test naming it until
they know it too.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Action(StrEnum):
    BACKUP = "backup"
    UPLOAD = "upload"
    REMOVE = "remove"
    CERTS = "certs"
    LOCALNODE = "localnode"  # database cluster localnode <interface>, before initialize/join
    INITIALIZE = "initialize"
    JOIN = "join"
    # database cluster connect <master>, on a call bridge listed under ``connected:``, after
    # its three-file ``certs`` (issue 24): it uses the cluster's database again.
    CONNECT = "connect"


class Expectation(StrEnum):
    """What the executor waits for after an asynchronous step."""

    DISABLED = "disabled"  # Last command remove (Success), Status Disabled
    MASTER = "master"  # Last command initialize (Success), Enabled, Connected Master (me)
    IN_SYNC = "in_sync"  # Last command join (Success), Enabled, replica In Sync
    USES_MASTER = "uses_master"  # a connected call bridge: Node in use is the master


TimeoutKey = Literal["remove", "initialize", "join"]
"""A field of the cluster file's ``timeouts`` that limits one kind of operation."""

SYNC_STEP_SECONDS = 10
"""What the estimate allows for a step that finishes with its command (backup, upload, certs)."""

CONNECT_SECONDS = 60
"""How long a connected call bridge may take, after ``database cluster connect``, to show the
master as its ``Node in use``: the executor waits this long and the estimate allows it. No
source says how long it takes (reference §1.7); a bridge that needs longer fails the step,
which is safe (the cluster is up, and planning again plans the connect again)."""

DESIRED_FIELDS = frozenset({"master", "interface", "files"})
"""The command fields the desired state sets (the master's address, the cluster interface,
a node's certificate file names): a command made only of these is checked exactly by
``apply.safety``. Others (a backup's name, an upload's paths) come from the plan itself and
are checked by their own rules."""


@dataclass(frozen=True)
class ActionSpec:
    """What one step kind is, for every part that plans, checks, runs or times it.

    ``command``: the step's command line, a ``str.format`` template (an upload's is the
    SFTP transfer it describes). ``destructive``: it changes the node's cluster membership
    or configuration, so a backup of the node comes first (SPEC §6.2). ``asynchronous``: the
    command returns at once and restarts the node's callbridge and web admin; the executor
    polls until ``expect``. ``expect``: what the node shows once the step is done (the plan
    records it). ``timeout``: the cluster file's limit for it, else ``seconds``, a fixed
    allowance. ``takes_service``: run on a node that serves, it takes the node out of
    service (a maintenance window is needed). ``asked``: ``apply --step`` asks before it.
    """

    command: str
    destructive: bool
    asynchronous: bool = False
    expect: Expectation | None = None
    timeout: TimeoutKey | None = None
    seconds: int = SYNC_STEP_SECONDS
    takes_service: bool = False
    asked: bool = True

    @property
    def fields(self) -> frozenset[str]:
        """The names the command template needs: ``{"master"}`` for a join."""
        return frozenset(
            name for _, name, _, _ in string.Formatter().parse(self.command) if name is not None
        )

    def command_line(self, **values: str) -> str:
        """The command with ``values`` filled in (KeyError: one it needs is missing)."""
        return self.command.format(**values)


ACTIONS: dict[Action, ActionSpec] = {
    # A backup changes nothing the node runs and is the precondition of every destructive
    # step on its node: a supervised apply does not ask before it.
    Action.BACKUP: ActionSpec("backup snapshot {name}", destructive=False, asked=False),
    Action.UPLOAD: ActionSpec("put {path} -> {remote_name}", destructive=False),
    Action.REMOVE: ActionSpec(
        "database cluster remove",
        destructive=True,
        asynchronous=True,
        expect=Expectation.DISABLED,
        timeout="remove",
        takes_service=True,
    ),
    Action.CERTS: ActionSpec("database cluster certs {files}", destructive=True),
    Action.LOCALNODE: ActionSpec("database cluster localnode {interface}", destructive=True),
    Action.INITIALIZE: ActionSpec(
        "database cluster initialize",
        destructive=True,
        asynchronous=True,
        expect=Expectation.MASTER,
        timeout="initialize",
        takes_service=True,
    ),
    Action.JOIN: ActionSpec(
        "database cluster join {master}",
        destructive=True,
        asynchronous=True,
        expect=Expectation.IN_SYNC,
        timeout="join",
        takes_service=True,
    ),
    Action.CONNECT: ActionSpec(
        "database cluster connect {master}",
        destructive=True,
        expect=Expectation.USES_MASTER,
        seconds=CONNECT_SECONDS,
        takes_service=True,
    ),
}

DESTRUCTIVE = frozenset(action for action, spec in ACTIONS.items() if spec.destructive)
"""Steps that change a node's cluster membership or configuration: each needs a backup first."""

ASYNCHRONOUS = frozenset(action for action, spec in ACTIONS.items() if spec.asynchronous)
"""Steps whose command returns at once (remove, initialize, join): the executor polls."""


def command_line(action: Action, **values: str) -> str:
    """``action``'s command with ``values`` filled in: ``database cluster join 10.0.0.1``."""
    return ACTIONS[action].command_line(**values)
