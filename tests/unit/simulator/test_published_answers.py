"""Answers the reference now has sources for (N1: TAC 217320; §6), as the simulator gives
them, and the reconciler's parsers reading them: ``pki list`` unsorted, ``pki csr`` with its
progress dots and "via SFTP", an unset file printed as lower-case ``none``, and an expired
MMP password as a fault anyone can replay."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.mmp.parsers import parse_cluster_status
from reconciler.mmp.parsers.pki import parse_pki_list
from reconciler.simulator.choices import CHOICES
from reconciler.simulator.faults import parse_fault
from reconciler.simulator.service import SimulatedCluster
from tests.support.lab import make_lab
from tests.unit.simulator.test_commands import MASTER, run

TAC_217320_LIST = """\
User supplied certificates and keys:
tac.key
tac.cer
ROOTCA.cer
example.key
example.csr
tac.csr
"""


@pytest.fixture
def lab(tmp_path: Path) -> SimulatedCluster:
    return make_lab(tmp_path)


def test_pki_list_is_not_sorted(lab: SimulatedCluster) -> None:
    files = lab.node(MASTER).files
    newest = max(path.stat().st_mtime_ns for path in files.iterdir())
    for offset, name in enumerate(("zeta.key", "alpha.cer"), start=1):
        path = files / name
        path.write_bytes(b"x")
        os.utime(path, ns=(newest + offset * 10**9, newest + offset * 10**9))
    lines = run(lab, MASTER, "pki list").splitlines()
    assert lines[0] == "User supplied certificates and keys:"
    assert lines[-2:] == ["zeta.key", "alpha.cer"]  # as written, not in name order
    assert lines[1:] != sorted(lines[1:])


def test_the_published_unsorted_list_is_read_in_its_own_order() -> None:
    assert parse_pki_list(TAC_217320_LIST).files == (
        "tac.key",
        "tac.cer",
        "ROOTCA.cer",
        "example.key",
        "example.csr",
        "tac.csr",
    )


def test_pki_csr_answers_as_tac_217320_shows(lab: SimulatedCluster) -> None:
    output = run(lab, MASTER, "pki csr tac CN:postgres").splitlines()
    assert len(output) == 4
    assert set(output[0]) == {"."}
    assert set(output[1]) == {"."}
    assert output[2] == "Created key file tac.key and CSR tac.csr"
    assert output[3] == "CSR file tac.csr ready for download via SFTP"


def test_choices_no_longer_call_published_answers_unpublished() -> None:
    for key in ("pki.list.heading", "pki.csr.done"):
        assert "not published" not in CHOICES[key].why
        assert "217320" in CHOICES[key].why


def test_an_unset_file_printed_as_lower_case_none_is_nothing_configured() -> None:
    text = """\
Status                   : Disabled
Node in use              : none

Interface                : a

Certificates
  Server Key             : none
  Server Certificate     : none
  Client Key             : none
  Client Certificate     : none
  CA Certificate         : none
"""
    status = parse_cluster_status(text)
    assert status.node_in_use is None
    assert status.certificates.server_key is None
    assert status.certificates.ca_cert is None


def test_an_expired_password_is_a_fault_of_its_own() -> None:
    every = parse_fault("cms2:password-expired", ["cms1", "cms2"])
    assert (every.kind, every.pattern) == ("password-expired", "*")
    admin = parse_fault("password-expired:admin", ["cms1", "cms2"], node="cms2")
    assert admin.pattern == "admin"


def test_the_expired_fault_expires_only_that_account(lab: SimulatedCluster) -> None:
    lab.fault_engine.install([parse_fault("cms1:password-expired:admin", ["cms1", "cms2", "cms3"])])
    faults = lab.node("cms1").faults
    assert faults.password_expired("admin")
    assert not faults.password_expired("audit")
    assert not lab.node("cms2").faults.password_expired("admin")
