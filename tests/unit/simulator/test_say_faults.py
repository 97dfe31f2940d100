"""``say-*`` faults (issue 24): words the reference never shows, printed only when a test or a
person asks for them; without the fault the simulator prints its documented choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.simulator.faults import parse_fault
from reconciler.simulator.service import SimulatedCluster
from tests.support.lab import LAB_BUNDLE, make_lab
from tests.unit.simulator.test_commands import (
    MASTER,
    disband,
    run,
    settle,
    upload_new_bundle,
)

NODES = ("cms1", "cms2", "cms3")
CERTS = "database cluster certs " + " ".join(LAB_BUNDLE)


@pytest.fixture
def lab(tmp_path: Path) -> SimulatedCluster:
    return make_lab(tmp_path)


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        (
            "cms2:say-certs:SUCCESS: Key and certificate pair match",
            {"kind": "say-certs", "words": "SUCCESS: Key and certificate pair match"},
        ),
        (
            "cms3:say-status:join=Joining cluster (Started {seconds} seconds ago)",
            {
                "kind": "say-status",
                "operation": "join",
                "words": "Joining cluster (Started {seconds} seconds ago)",
            },
        ),
        (
            "cms1:say-member:initialize=Initialising",
            {"kind": "say-member", "operation": "initialize", "words": "Initialising"},
        ),
    ],
)
def test_a_say_fault_names_what_to_print(text: str, fields: dict[str, object]) -> None:
    spec = parse_fault(text, NODES)
    for name, value in fields.items():
        assert getattr(spec, name) == value, name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cms2:say-certs", r"say-certs takes the text to print"),
        ("cms2:say-status:join", r"write say-status:OPERATION=TEXT"),
        ("cms2:say-member:reboot=x", r"say-member takes an operation"),
    ],
)
def test_a_say_fault_without_its_words_is_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_fault(text, NODES)


def test_certs_prints_the_extra_line_only_when_asked(lab: SimulatedCluster) -> None:
    disband(lab)
    upload_new_bundle(lab, MASTER)
    assert run(lab, MASTER, CERTS) == "Certificates updated\n"
    lab.inject("cms1:say-certs:SUCCESS: Key and certificate pair match")
    assert run(lab, MASTER, CERTS) == (
        "SUCCESS: Key and certificate pair match\nCertificates updated\n"
    )


def test_the_status_and_member_words_change_only_while_the_operation_runs(
    lab: SimulatedCluster,
) -> None:
    disband(lab)
    upload_new_bundle(lab, MASTER)
    run(lab, MASTER, CERTS)
    lab.inject(
        "cms1:say-status:initialize=Initialising database (Started {seconds} seconds ago)",
        "cms1:say-member:initialize=Initialising",
        "cms1:slow:initialize=10",
    )
    run(lab, MASTER, "database cluster initialize", "Y")
    running = run(lab, MASTER, "database cluster status")
    assert "Status                : Initialising database (Started 0 seconds ago)" in running
    assert f"  {MASTER} (me)    : Initialising" in running
    lab.model.clock.advance(11)
    settle(lab)
    done = run(lab, MASTER, "database cluster status")
    assert "Status                : Enabled" in done
    assert f"  {MASTER} (me)    : Connected Master" in done
