"""``reconcile probe`` against the simulated lab: read-only, a bundle, and the exit codes.

Against the lab as the simulator serves it every line is known (exit 0); a node that prints
one line the parsers do not know gives exit 2 and the report names the line and its command;
a node that is down gives exit 1. The simulator's command log proves that nothing but the
probe's read-only commands reached any node, and the bundle passes the secrets scan of
``test_secrets.py``.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from reconciler.onboard.probe import PROBE_COMMANDS, bundle_findings, load_bundle
from reconciler.simulator import commands
from reconciler.simulator.cluster import ClusterModel
from reconciler.simulator.render import render_status
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import SimNode
from tests.e2e.conftest import RunningSim, reconcile
from tests.e2e.test_secrets import KEYS, key_needles, needles, run, secret_env, secret_sim

__all__ = ["secret_env", "secret_sim"]  # fixtures of test_secrets.py, used here

pytestmark = pytest.mark.e2e

EXTRA = "Cluster mode          : enhanced"
"""A line no published status shows (CMS 3.5's "enhanced security" might print one)."""


def _bundles(repo: Path) -> list[Path]:
    return sorted((repo / ".reconcile" / "probe").glob("lab-*.txt"))


def _read_only(commands_sent: list[str]) -> bool:
    return all(
        any(command.split()[: len(p.split())] == p.split() for p in PROBE_COMMANDS)
        for command in commands_sent
    )


def test_the_lab_matches_the_reference_and_nothing_state_changing_is_sent(
    running_lab: RunningSim, lab_repo: Path
) -> None:
    result = reconcile("probe", "--cluster", "lab", repo=lab_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("every line recognised") == 3
    [bundle] = _bundles(lab_repo)
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    assert stat.S_IMODE(bundle.parent.stat().st_mode) == 0o700
    assert str(bundle) in result.stdout
    replayed = load_bundle(bundle.read_text())
    assert bundle_findings(replayed) == {"cms1": [], "cms2": [], "cms3": []}
    for node in running_lab.state()["nodes"]:
        sent = running_lab.log(node["address"], "command")
        assert sent[0] == "database cluster status"
        assert len([c for c in sent if c.startswith("pki inspect ")]) == 5
        assert _read_only(sent), sent
        sftp = running_lab.log(node["address"], "sftp")
        assert sftp
        assert all(entry.split()[0] in {"listdir", "stat"} for entry in sftp), sftp

    as_json = reconcile("probe", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert [n["recognised"] for n in data["nodes"]] == [True, True, True]
    assert data["bundle"].endswith(".txt")


def test_a_line_the_parsers_do_not_know_gives_exit_2_and_is_named(
    lab_sim: SimulatedCluster, lab_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def with_extra_line(model: ClusterModel, node: SimNode) -> str:
        text = render_status(model, node)
        if node.name != "cms2":
            return text
        first, _, rest = text.partition("\n")
        return f"{first}\n{EXTRA}\n{rest}"

    monkeypatch.setattr(commands, "render_status", with_extra_line)
    result = reconcile("probe", "--cluster", "lab", repo=lab_repo)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.count("every line recognised") == 2
    assert f"database cluster status: line 2 {EXTRA!r}" in result.stdout
    assert "cms2" in result.stdout.split(EXTRA)[0].splitlines()[-2]
    [bundle] = _bundles(lab_repo)
    findings = bundle_findings(load_bundle(bundle.read_text()))
    assert [f.line.text for f in findings["cms2"] if f.line] == [EXTRA]
    for key in ("cms1", "cms2", "cms3"):
        assert _read_only(lab_sim.commands(key))

    as_json = reconcile("probe", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert as_json.returncode == 2
    nodes = {n["name"]: n for n in json.loads(as_json.stdout)["nodes"]}
    [unknown] = nodes["cms2"]["unrecognised"]
    assert unknown == {
        "command": "database cluster status",
        "line_number": 2,
        "line": EXTRA,
        "reason": "database cluster status: line not understood",
    }


def test_a_node_that_is_down_gives_exit_1(lab_sim: SimulatedCluster, lab_repo: Path) -> None:
    lab_sim.set_down("cms3")
    result = reconcile("probe", "--cluster", "lab", repo=lab_repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cms3" in result.stdout
    assert "not read" in result.stdout
    assert result.stdout.count("every line recognised") == 2
    assert _bundles(lab_repo)


def test_anonymise_keeps_no_node_name_or_address(lab_sim: SimulatedCluster, lab_repo: Path) -> None:
    result = reconcile("probe", "--cluster", "lab", "--anonymise", repo=lab_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    [bundle] = _bundles(lab_repo)
    text = bundle.read_text()
    for key in ("cms1", "cms2", "cms3"):
        node = lab_sim.node(key)
        assert node.address not in text
        assert f" {key} " not in text
    assert bundle_findings(load_bundle(text)) == {"node1": [], "node2": [], "node3": []}


@pytest.mark.reliability(
    section="secrets",
    case="reconcile probe with random password and passphrase: no secret or private key "
    "material in its output or its transcript bundle (clear, hex, base64)",
)
def test_the_probe_bundle_passes_the_secrets_scan(
    secret_sim: SimulatedCluster, lab_repo: Path, secret_env: dict[str, str], tmp_path: Path
) -> None:
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()

    def probe(*args: str) -> tuple[str, bytes, bytes]:
        result = run(
            "probe", "--cluster", "lab", *args, repo=lab_repo, env=secret_env, home=home, tmp=tmp
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return args[0] if args else "text", result.stdout.encode(), result.stderr.encode()

    searched: dict[str, bytes] = {}
    for name, stdout, stderr in (probe(), probe("--format", "json"), probe("--anonymise")):
        searched[f"{name} stdout"] = stdout
        searched[f"{name} stderr"] = stderr
    bundles = _bundles(lab_repo)
    assert len(bundles) == 3  # one per run, none overwritten within the same second
    # The probe really read the keys: each node's two private keys were inspected.
    assert all(b.read_text().count("-- pki inspect dbcluster") >= 9 for b in bundles)
    for path in bundles:
        searched[path.name] = path.read_bytes()

    wanted: dict[str, bytes] = {}
    for variable, value in secret_env.items():
        wanted.update({f"{variable} {form}": needle for form, needle in needles(value).items()})
    for relative in KEYS:
        key = serialization.load_pem_private_key(
            (lab_repo / relative).read_bytes(), secret_env["CMS_LAB_KEY_PASSPHRASE"].encode()
        )
        assert isinstance(key, rsa.RSAPrivateKey)
        wanted.update({f"{relative} {form}": needle for form, needle in key_needles(key).items()})
    leaks = [
        f"{what} in {where}"
        for where, data in searched.items()
        for what, needle in wanted.items()
        if needle in data
    ]
    assert leaks == []
