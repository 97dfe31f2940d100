"""`certs check` offline (the bundle in git), its exit codes and its three output formats."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.certs.check import (
    CertificateEntry,
    CheckReport,
    CheckRequest,
    NodeCheck,
    _ReadOnlySession,
    run_check,
)
from reconciler.certs.report import render, render_json, render_prometheus, render_text
from reconciler.certs.writing import write_atomically
from reconciler.errors import ReconcileError
from reconciler.live.health import CertificateState
from reconciler.mmp.models import CertRole
from tests.support.fake_session import FakeSession
from tests.unit.certs.support import Repo
from tests.unit.desired.labrepo import CERTS, CLUSTER
from tests.unit.desired.pki import NOW, Pki, cert_pem

SERVER = f"{CERTS}/server.cer"


def check(repo: Repo, within: dt.timedelta | None = None) -> CheckReport:
    request = CheckRequest(repo.root, [CLUSTER], within=within, offline=True)
    return run_check(request, repo.env, now=NOW)


def states(report: CheckReport) -> dict[str, str]:
    return {entry.file: entry.state for entry in report.certificates}


def test_a_valid_bundle_is_fine(repo: Repo) -> None:
    report = check(repo)
    assert report.exit_code == 0
    assert states(report) == {SERVER: "ok", f"{CERTS}/client.cer": "ok", f"{CERTS}/ca.cer": "ok"}
    (entry,) = [entry for entry in report.certificates if entry.file == SERVER]
    assert entry.node == "desired"
    assert entry.source == "git"
    assert entry.subject == "CN=cms-db.test,O=TEST ONLY"
    assert entry.issuer == "CN=TEST root CA,O=TEST ONLY"
    assert entry.days_left == 5 * 365
    assert report.checks == (
        NodeCheck(cluster=CLUSTER, node="desired", address=None, success=True),
    )
    assert (
        render_text(report).splitlines()[-3] == "t: ok, nothing expires within its renewal window"
    )


def test_within_overrides_renew_before(repo: Repo) -> None:
    report = check(repo, within=dt.timedelta(days=6 * 365))
    assert report.exit_code == 1
    assert states(report)[SERVER] == "due"
    assert states(report)[f"{CERTS}/ca.cer"] == "ok"  # ten years
    assert "2 certificates due for renewal, first expiry" in render_text(report)


def test_an_expired_certificate_in_git(repo: Repo, pki: Pki) -> None:
    old = pki.leaf(pki.server_key, "cms-db.test", not_after=NOW - dt.timedelta(days=3))
    (repo.root / SERVER).write_bytes(cert_pem(old))
    report = check(repo)
    assert report.exit_code == 1
    (entry,) = [entry for entry in report.certificates if entry.file == SERVER]
    assert entry.expired
    assert entry.renewal_due
    assert entry.days_left == -3
    assert "1 certificate expired" in render_text(report)


def test_an_unreadable_file_is_not_checked_exit_3(repo: Repo) -> None:
    (repo.root / SERVER).write_text("not a certificate")
    report = check(repo)
    assert report.exit_code == 3
    assert states(report)[SERVER] == "unknown"
    (desired,) = report.checks
    assert not desired.success
    assert desired.error is not None
    assert SERVER in desired.error


def test_due_wins_over_not_checked(repo: Repo, pki: Pki) -> None:
    (repo.root / f"{CERTS}/client.cer").write_text("damaged")
    report = check(repo, within=dt.timedelta(days=6 * 365))
    assert report.exit_code == 1


def test_a_cluster_file_that_does_not_load(repo: Repo) -> None:
    (repo.root / "clusters" / f"{CLUSTER}.yaml").write_text("name: t\nnodes: nope\n")
    report = check(repo)
    assert report.exit_code == 3
    assert report.certificates == ()
    assert "run `reconcile validate`" in (report.checks[0].error or "")


def test_json_has_one_entry_per_file(repo: Repo) -> None:
    document = json.loads(render_json(check(repo)))
    assert document["exit_code"] == 0
    assert document["offline"] is True
    server = document["certificates"][0]
    assert server == {
        "cluster": CLUSTER,
        "node": "desired",
        "address": None,
        "source": "git",
        "role": "server_cert",
        "file": SERVER,
        "not_after": (NOW + dt.timedelta(days=5 * 365)).isoformat(),
        "days_left": 5 * 365,
        "state": "ok",
        "expired": False,
        "renewal_due": False,
        "renew_before": "30d",
        "subject": "CN=cms-db.test,O=TEST ONLY",
        "issuer": "CN=TEST root CA,O=TEST ONLY",
    }
    assert [entry["role"] for entry in document["certificates"]] == [
        "server_cert",
        "client_cert",
        "ca_cert",
    ]


def report_with_live_nodes() -> CheckReport:
    def entry(node: str, file: str, days: int | None, state: CertificateState) -> CertificateEntry:
        return CertificateEntry(
            cluster="lab",
            node=node,
            address=None if node == "desired" else "127.0.85.73",
            source="git" if node == "desired" else "live",
            role=CertRole.SERVER_CERT,
            file=file,
            not_after=None if days is None else NOW + dt.timedelta(days=days),
            days_left=days,
            state=state,
            window=dt.timedelta(days=30),
            subject=None,
            issuer=None,
        )

    return CheckReport(
        checked_at=NOW,
        offline=False,
        certificates=(
            entry("desired", "certs/lab/server.cer", 400, "ok"),
            entry("cms1", "dbclusterserver.cer", -10, "expired"),
            entry("cms1", 'odd "name"\\with\nnewline.cer', 10, "due"),
            entry("cms2", "gone.cer", None, "unknown"),
        ),
        checks=(
            NodeCheck(cluster="lab", node="desired", address=None, success=True),
            NodeCheck(cluster="lab", node="cms1", address="127.0.85.73", success=True),
            NodeCheck(
                cluster="lab", node="cms2", address="127.0.85.74", success=False, error="down"
            ),
        ),
    )


def test_prometheus_output_reads_back_with_the_client_parser() -> None:
    text = render_prometheus(report_with_live_nodes())
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert set(families) == {
        "cms_reconciler_certificate_expiration_timestamp_seconds",
        "cms_reconciler_certificate_expired",
        "cms_reconciler_certificate_renewal_due",
        "cms_reconciler_check_success",
    }
    assert all(family.type == "gauge" for family in families.values())
    assert all(family.documentation for family in families.values())
    expiry = families["cms_reconciler_certificate_expiration_timestamp_seconds"].samples
    assert [sample.labels["file"] for sample in expiry] == [
        "certs/lab/server.cer",
        "dbclusterserver.cer",
        'odd "name"\\with\nnewline.cer',  # escaped and read back intact
    ]  # gone.cer: expiry unknown, no sample
    assert expiry[1].labels == {
        "cluster": "lab",
        "node": "cms1",
        "role": "server_cert",
        "file": "dbclusterserver.cer",
        "source": "live",
    }
    assert expiry[1].value == (NOW - dt.timedelta(days=10)).timestamp()
    expired = {
        s.labels["file"]: s.value for s in families["cms_reconciler_certificate_expired"].samples
    }
    assert expired == {
        "certs/lab/server.cer": 0,
        "dbclusterserver.cer": 1,
        'odd "name"\\with\nnewline.cer': 0,
    }
    due = {
        s.labels["file"]: s.value
        for s in families["cms_reconciler_certificate_renewal_due"].samples
    }
    assert due == {
        "certs/lab/server.cer": 0,
        "dbclusterserver.cer": 1,
        'odd "name"\\with\nnewline.cer': 1,
    }
    success = {s.labels["node"]: s.value for s in families["cms_reconciler_check_success"].samples}
    assert success == {"desired": 1, "cms1": 1, "cms2": 0}


def test_promtool_accepts_the_prometheus_output(repo: Repo) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus; `make system-tools`)"
    for report in (report_with_live_nodes(), check(repo)):
        result = subprocess.run(
            [promtool, "check", "metrics"],
            input=render(report, "prometheus") + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout + result.stderr == ""  # not even a lint warning


def test_text_names_unchecked_nodes() -> None:
    lines = render_text(report_with_live_nodes()).splitlines()
    assert lines[0] == "lab (renewal due 30d before expiry)"
    assert "  cms2     not checked: down" in lines
    assert (
        lines[-1] == "lab: 1 certificate expired, 1 certificate due for renewal, not checked: cms2"
    )


def test_the_out_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "cms.prom"
    target.write_text("old")
    write_atomically(target, b"new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o644  # node_exporter runs as another user
    assert [path.name for path in tmp_path.iterdir()] == ["cms.prom"]


def test_the_check_can_only_read() -> None:
    session = _ReadOnlySession(FakeSession(statuses=["Status : Disabled\n"]))
    session.run("database cluster status")
    for attempt in (
        lambda: session.run("database cluster remove"),
        lambda: session.run_confirmed("database cluster remove"),
        lambda: session.write_file("x.cer", b""),
        lambda: session.create_file("x.lock", b""),
        lambda: session.remove_file("x.cer"),
        lambda: session.download("x.bak", Path("/nonexistent")),
    ):
        with pytest.raises(ReconcileError, match="certs check"):
            attempt()
