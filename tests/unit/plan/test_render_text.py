"""The terminal rendering: what an operator reads before typing ``yes``."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from reconciler.plan.models import Plan, Rehearsal
from reconciler.plan.render import render_text, text_summary
from tests.unit.plan.test_render_plans import (
    blocked_cluster,
    blocked_plan,
    converged_cluster,
    converged_plan,
    lab_seed_cluster,
    lab_seed_plan,
    master_change_plan,
    plan_of,
    reform_cluster,
    reform_plan,
)

ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-7][;m]")


def render(plan: Plan, **console_options: object) -> str:
    options: dict[str, object] = {"width": 120, "color_system": None}
    options.update(console_options)
    buffer = io.StringIO()
    console = Console(file=buffer, **options)  # type: ignore[arg-type]
    render_text(plan, console)
    return buffer.getvalue()


def test_header_names_cluster_strategy_and_commit() -> None:
    first = render(reform_plan(dirty=True)).splitlines()[0]
    assert first == "Cluster lab  strategy: reform  git: 1a2b3c4 (dirty)"


def test_steps_are_listed_in_execution_order() -> None:
    plan = reform_plan()
    output = render(plan)
    position = 0
    for step in plan.clusters[0].steps:
        line = f"{step.id:>3}. [{step.node} {step.node_name}] "
        found = output.find(line, position)
        assert found >= 0, line
        command_at = output.find(step.command, found)
        assert command_at == found + len(line) + 12, step.command
        position = found + 1
    assert "   3. [127.0.85.73 cms1] backup      backup snapshot" in output
    assert " 10. [127.0.85.74 cms2] remove      database cluster remove\n" in output


def test_reason_follows_its_step_and_after_is_shown() -> None:
    lines = render(reform_plan()).splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("  17. "))
    assert lines[index + 1] == "      replica copies the master's database (after 16)"


def test_findings_use_severity_symbols() -> None:
    output = render(plan_of(reform_cluster(), blocked_cluster("other")))
    assert (
        "  ~ 127.0.85.74 cms2 server_cert: dbclusterserver.cer (expired) -> "
        "dbclusterserver.cer sha256:" in output
    )
    assert "  i cluster ca_cert: CAVD.cer\n    CA certificate unchanged" in output
    assert "  x 127.0.85.75 reachable: connection refused -> reachable over ssh" in output


def test_data_authority_and_impact() -> None:
    output = render(reform_plan())
    assert "Data authority: cms1 (127.0.85.73) keeps its database" in output
    assert "--allow-master-change" not in output
    assert "Impact: the cluster is down" in output
    assert (
        "at most 3 nodes out at once; the whole apply at most 40m if every wait runs to its "
        "timeout" in output
    )


def test_closing_line() -> None:
    assert render(reform_plan()).endswith("\nPlan: 18 steps on 3 nodes (reform).\n")


def test_master_change_needs_the_flag() -> None:
    output = render(master_change_plan())
    assert "Data authority: cms2 (127.0.85.74) becomes master" in output
    assert "apply needs --allow-master-change" in output


def test_converged_plan_says_no_changes() -> None:
    output = render(converged_plan())
    assert output.endswith("No changes. Cluster lab is converged.\n")
    assert "Steps:" not in output
    assert "i 127.0.85.73 server_cert: dbclusterserver.cer\n    expires in 200d" in output


def test_blocked_plan_shows_errors_and_no_steps() -> None:
    output = render(blocked_plan())
    assert "Cannot plan cluster lab:\n  x 127.0.85.75 reachable" in output
    assert "ssh 127.0.85.75:2222: connection refused" in output
    assert "Steps:" not in output
    assert "server_cert" not in output  # only the errors matter while blocked


def test_several_clusters_are_separated() -> None:
    output = render(plan_of(reform_cluster(), converged_cluster("b"), blocked_cluster("c")))
    assert "(reform).\n\nCluster b" in output
    assert "converged.\n\nCluster c" in output


def test_empty_plan() -> None:
    assert render(plan_of()) == "No clusters in this plan.\n"


def test_markup_in_plan_text_is_shown_literally() -> None:
    cluster = reform_cluster()
    step = cluster.steps[0].model_copy(
        update={"command": "put [bold]x[/bold] -> y", "reason": "[red]"}
    )
    plan = plan_of(cluster.model_copy(update={"steps": [step, *cluster.steps[1:]]}))
    output = render(plan)
    assert "put [bold]x[/bold] -> y" in output
    assert "      [red]\n" in output


def test_long_commands_are_not_broken() -> None:
    output = render(reform_plan(), width=40)
    assert (
        "database cluster certs dbclusterserver.key dbclusterserver.cer "
        "dbclusterclient.key dbclusterclient.cer CAVD.cer" in output
    )


def test_no_colour_without_a_terminal() -> None:
    assert "\x1b[" not in render(master_change_plan(), color_system="auto")


def test_colour_on_a_terminal() -> None:
    output = render(master_change_plan(), force_terminal=True, color_system="standard")
    assert ANSI_COLOUR.search(output)


def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    output = render(master_change_plan(), force_terminal=True, color_system="standard")
    assert not ANSI_COLOUR.search(output)


def test_text_summary() -> None:
    plan = plan_of(
        reform_cluster(),
        reform_cluster("moved", master_change=True),
        converged_cluster("b"),
        blocked_cluster("c"),
    )
    assert text_summary(plan).splitlines() == [
        "lab: reform, 18 steps on 3 nodes, at most 40m",
        "moved: reform, 18 steps on 3 nodes, at most 40m, "
        "master change (needs --allow-master-change)",
        "b: converged",
        "c: BLOCKED (1 error): 127.0.85.75 reachable: connection refused -> reachable over ssh",
    ]
    assert text_summary(plan_of()) == "no clusters"


# --- issue 23: words that mislead -------------------------------------------------------------
def test_a_cluster_already_broken_is_said_right_under_its_header() -> None:
    lines = render(lab_seed_plan()).splitlines()
    assert lines[0] == "Cluster lab  strategy: reform  git: 1a2b3c4"
    assert lines[1] == (
        "Already broken: the certificates in use have expired on cms1, cms2 and cms3; cms2 and "
        "cms3 are not in sync; cms1 is still master."
    )
    assert text_summary(lab_seed_plan()) == (
        "lab: reform, 27 steps on 3 nodes, at most 43m 30s, already broken"
    )


def test_one_outage_line_modelled_and_bound_the_whole_apply_labelled_apart() -> None:
    cluster = lab_seed_cluster()
    rehearsal = Rehearsal(converges=True, steps_run=27, device_seconds=330, outage_seconds=290)
    output = render(lab_seed_plan(cluster.model_copy(update={"rehearsal": rehearsal})))
    assert (
        "  outage: cluster down from step 4 to step 27 (no master from step 6 until cms1 "
        "initializes at step 25): expected about 5 min (modelled); at most 43 min if every wait "
        "runs to its timeout\n" in output
    )
    assert (
        "at most 3 nodes out at once; the whole apply at most 43m 30s if every wait runs to its "
        "timeout\n" in output
    )
    assert "Rehearsed on a twin: converges in 27 steps, device work about 6 min\n" in output
    assert output.count("outage") == 1


def test_without_a_rehearsal_the_outage_is_only_a_bound() -> None:
    output = render(lab_seed_plan())
    assert "expected" not in output
    assert (
        "  outage: cluster down from step 4 to step 27 (no master from step 6 until cms1 "
        "initializes at step 25): at most 43 min if every wait runs to its timeout\n" in output
    )


def test_new_certificates_show_subject_issuer_and_expiry_as_in_the_comment() -> None:
    lines = render(lab_seed_plan()).splitlines()
    server = lines.index(
        "  ~ 127.0.85.73 cms1 server_cert: dbclusterserver.cer (expired) -> dbclusterserver.cer "
        "sha256:bec4326cffbf158c"
    )
    assert lines[server + 1] == (
        "    new certificate: subject CN=cms-lab-db.example,O=LAB ONLY; issuer CN=LAB ONLY CAVD "
        "root CA,O=LAB ONLY; valid until 2031-11-01"
    )
    keys = [line for line in lines if "server_key:" in line]
    assert keys
    assert all("new certificate" not in line for line in keys)
