"""Fuzzing: an edited plan file is applied only if the edit changes nothing that would run.

``reconcile apply --plan-file`` applies what a reviewer approved. The file passes through
the same path as in a run: read and validated (``_load_plan_file``), its clusters taken
(``_clusters_of_plan_file``), the backup time taken from it (``backup_time_of``), and a
fresh plan compared with it (``check_saved_plan``). Every mutation is either refused with
a ``ReconcileError`` or leaves what would run (clusters, steps, strategy, data authority,
commit, live-state fingerprint, backup names) exactly as reviewed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler.apply.apply import check_saved_plan
from reconciler.errors import ReconcileError
from reconciler.plan.models import Plan
from reconciler.plan.render.json import render_json
from reconciler.reconcile import (
    ReconcileOptions,
    _clusters_of_plan_file,
    _load_plan_file,
    backup_time_of,
)
from tests.support.documents import key_paths
from tests.unit.apply.test_saved_plan import MADE, planned

EXAMPLES = 250
ORIGINAL = planned(None)
TEXT = render_json(ORIGINAL)
DATA: dict[str, Any] = json.loads(TEXT)


def what_runs(plan: Plan) -> dict[str, Any]:
    """Everything about a plan that decides which commands reach which node."""
    return {
        "commit": plan.git.commit,
        "backup_time": backup_time_of(plan).isoformat(),
        "clusters": [
            {
                "name": cluster.name,
                "state_fingerprint": cluster.state_fingerprint,
                "strategy": cluster.strategy,
                "blocked": cluster.blocked,
                "data_authority": cluster.data_authority,
                "steps": [step.model_dump(mode="json") for step in cluster.steps],
            }
            for cluster in plan.clusters
        ],
    }


PATHS = key_paths(DATA)


def _nudged(draw: st.DrawFn, value: Any) -> Any:
    """A value near the old one, so that it still validates and reaches the comparison."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + draw(st.sampled_from([-1, 1, 1000]))
    if isinstance(value, str) and value:
        at = draw(st.integers(0, len(value) - 1))
        other = draw(st.sampled_from(["0", "9", "a", "Z", " ", ";", "\x00", ""]))
        return value[:at] + other + value[at + 1 :]
    return draw(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.just([]), st.just({})))


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """The valid plan file with one edit; returns (file text, what was edited)."""
    data = copy.deepcopy(DATA)
    path = draw(st.sampled_from(PATHS))
    parent: Any = data
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    kind = draw(st.sampled_from(["nudge", "replace", "delete", "duplicate", "add", "text"]))
    if kind == "nudge":
        parent[last] = _nudged(draw, parent[last])
    elif kind == "replace":
        parent[last] = draw(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)))
    elif kind == "delete":
        del parent[last]
    elif kind == "duplicate" and isinstance(parent, list):
        parent.insert(last, copy.deepcopy(parent[last]))
    elif kind == "add" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=6))] = draw(st.integers())
    else:
        kind = "text"
    if kind == "text":
        text = render_json(ORIGINAL)
        at = draw(st.integers(0, len(text) - 1))
        junk = draw(st.sampled_from(["", "0", "1", "a", '"', ",", "}", "]", "-", " "]))
        return text[:at] + junk + text[at + 1 :], "text"
    where = ".".join("[]" if isinstance(key, int) else str(key) for key in path[-3:])
    return json.dumps(data, indent=2), f"{kind} {where}"


@pytest.mark.reliability(
    section="fuzzing",
    case="the plan-file reader refuses every edit of a plan file that changes what would run",
)
def test_every_edit_that_changes_what_runs_is_refused(
    record_property: Callable[[str, object], None],
) -> None:
    reviewed = what_runs(ORIGINAL)
    outcomes = {"refused": 0, "accepted": 0}
    with TemporaryDirectory() as folder:
        plan_file = Path(folder) / "plan.json"
        options = ReconcileOptions(repo=Path(folder), clusters=(), apply=True, plan_file=plan_file)

        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        )
        @given(mutated())
        def run(edit: tuple[str, str]) -> None:
            text, edited = edit
            plan_file.write_text(text, errors="surrogatepass")
            try:
                saved = _load_plan_file(plan_file)
                _clusters_of_plan_file(saved, options)
                fresh = planned(backup_time_of(saved), now=MADE + timedelta(minutes=20))
                check_saved_plan(saved, fresh)
            except ReconcileError as error:
                refusal: ReconcileError | None = error
            else:
                refusal = None
            if refusal is not None:
                message = str(refusal).strip()
                assert message
                assert "\n" not in message or "not a valid plan" in message
                outcomes["refused"] += 1
                event(f"refused: {type(refusal).__name__}")
                return
            # Accepted: the edit must have left everything that runs as it was reviewed,
            # both in the file and in the fresh plan that apply would execute.
            assert what_runs(saved) == reviewed, f"accepted an edit that changes the run: {edited}"
            assert what_runs(fresh) == reviewed
            outcomes["accepted"] += 1
            event(f"accepted: {edited.split(' ')[0]}")

        run()
    record_property("examples", outcomes["refused"] + outcomes["accepted"])
    assert outcomes["refused"] > 0
    # Some edits (a finding's wording, the impact summary) do not change what runs; if none
    # was ever accepted, the comparison above was never exercised.
    assert outcomes["accepted"] > 0


def test_the_unedited_file_is_accepted() -> None:
    with TemporaryDirectory() as folder:
        plan_file = Path(folder) / "plan.json"
        plan_file.write_text(TEXT)
        saved = _load_plan_file(plan_file)
    check_saved_plan(saved, planned(backup_time_of(saved), now=MADE + timedelta(minutes=20)))
    assert what_runs(saved) == what_runs(ORIGINAL)
