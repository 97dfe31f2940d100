"""One table of step kinds (``plan.actions.ACTIONS``), and every table that must know each kind.

A new ``Action`` fails, by its name, each test here whose table lacks it (the test id is the
table and the action): its ``ACTIONS`` row and each renderer's labels. The executor's
handlers are checked in ``tests/unit/apply/test_step_handlers.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import pytest

from reconciler import progress
from reconciler.desired.models import Timeouts
from reconciler.plan import models
from reconciler.plan.actions import (
    ACTIONS,
    ASYNCHRONOUS,
    DESIRED_FIELDS,
    DESTRUCTIVE,
    Action,
    Expectation,
    command_line,
)
from reconciler.plan.render import mermaid, text
from reconciler.plan.timeouts import step_allowances, step_limits

KEYED_BY_ACTION: dict[str, Mapping[Action, object]] = {
    "plan.actions.ACTIONS": ACTIONS,
    "plan.render.text.ACTION_STYLE": text.ACTION_STYLE,
    "plan.render.mermaid.ACTION_KIND": mermaid.ACTION_KIND,
}
"""Every table keyed by step kind outside ``apply``: each must have a row for every Action."""


@pytest.mark.parametrize(
    ("table", "action"),
    [(table, action) for table in KEYED_BY_ACTION for action in Action],
    ids=[f"{table}-{action.value}" for table in KEYED_BY_ACTION for action in Action],
)
def test_every_table_knows_every_action(table: str, action: Action) -> None:
    assert action in KEYED_BY_ACTION[table], f"{table} has no entry for Action.{action.name}"


@pytest.mark.parametrize("expectation", list(Expectation), ids=str)
def test_progress_says_every_expectation(expectation: Expectation) -> None:
    assert expectation in progress.EXPECTED, (
        f"progress.EXPECTED has no words for Expectation.{expectation.name}"
    )


def test_mermaid_colours_only_kinds_it_draws() -> None:
    assert set(mermaid.KIND_CLASS) <= set(mermaid.ACTION_KIND.values())


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_an_asynchronous_step_has_what_the_executor_waits_for(action: Action) -> None:
    """The executor polls an asynchronous step until its expectation, within the cluster
    file's timeout for it; only those steps restart a node."""
    spec = ACTIONS[action]
    if spec.asynchronous:
        assert spec.expect is not None, f"{action.value}: asynchronous without an expectation"
        assert spec.timeout is not None, f"{action.value}: asynchronous without a timeout key"
        assert spec.destructive
    else:
        assert spec.timeout is None, f"{action.value}: a timeout key, but nothing waits for it"
    if spec.timeout is not None:
        assert spec.timeout in Timeouts.model_fields


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_a_step_that_takes_service_or_is_not_asked_about_is_consistent(action: Action) -> None:
    spec = ACTIONS[action]
    if spec.takes_service:
        assert spec.destructive, f"{action.value} takes service but needs no backup"
    if not spec.asked:
        assert not spec.destructive, f"{action.value} changes a node without a question"


def test_the_derived_sets() -> None:
    assert {Action.REMOVE, Action.INITIALIZE, Action.JOIN} == ASYNCHRONOUS
    assert set(Action) - {Action.BACKUP, Action.UPLOAD} == DESTRUCTIVE
    # Still importable where the plan's models are (many modules and tests use them there).
    assert models.DESTRUCTIVE is DESTRUCTIVE
    assert models.ASYNCHRONOUS is ASYNCHRONOUS
    assert models.Action is Action
    assert models.Expectation is Expectation


def test_commands_are_made_from_the_templates() -> None:
    assert command_line(Action.BACKUP, name="b1") == "backup snapshot b1"
    assert (
        command_line(Action.UPLOAD, path="a/b.key", remote_name="b.key") == "put a/b.key -> b.key"
    )
    assert command_line(Action.CERTS, files="k c ca") == "database cluster certs k c ca"
    assert command_line(Action.LOCALNODE, interface="a") == "database cluster localnode a"
    assert command_line(Action.JOIN, master="10.0.0.1") == "database cluster join 10.0.0.1"
    assert command_line(Action.CONNECT, master="::1") == "database cluster connect ::1"
    assert command_line(Action.REMOVE) == "database cluster remove"
    assert command_line(Action.INITIALIZE) == "database cluster initialize"
    with pytest.raises(KeyError):
        command_line(Action.JOIN)


def test_the_fields_a_command_needs() -> None:
    assert ACTIONS[Action.JOIN].fields == {"master"}
    assert ACTIONS[Action.REMOVE].fields == frozenset()
    assert ACTIONS[Action.UPLOAD].fields == {"path", "remote_name"}
    # The safety check compares every command the desired state makes, exactly.
    checked = {action for action, spec in ACTIONS.items() if spec.fields <= DESIRED_FIELDS}
    assert checked == set(Action) - {Action.BACKUP, Action.UPLOAD}


def test_limits_come_from_the_cluster_file_or_the_fixed_allowance() -> None:
    timeouts = Timeouts(
        remove=timedelta(seconds=61.5), initialize=timedelta(minutes=2), join=timedelta(hours=1)
    )
    limits = step_limits(timeouts)
    assert limits == {
        Action.BACKUP: 10,
        Action.UPLOAD: 10,
        Action.REMOVE: 61.5,
        Action.CERTS: 10,
        Action.LOCALNODE: 10,
        Action.INITIALIZE: 120,
        Action.JOIN: 3600,
        Action.CONNECT: 60,
    }
    assert step_allowances(timeouts)[Action.REMOVE] == 61
    assert list(step_allowances(timeouts)) == list(Action)  # the plan JSON's order
