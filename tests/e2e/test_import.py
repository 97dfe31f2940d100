"""`reconcile import` over real SSH against the simulated lab: the real CLI, a new repository.

The lab is applied to convergence with the real CLI, then imported under another name into an
empty directory; validate and plan in that directory must then find nothing to do.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import paramiko
import pytest
import yaml
from cryptography.hazmat.primitives import serialization

import reconciler
from reconciler.desired.source import MAX_FILE_BYTES
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.sftp_server import FlatSFTPHandle, FlatSFTPInterface
from tests.e2e.conftest import reconcile
from tests.support import cli
from tests.support.lab import LAB_BUNDLE, LabAddresses
from tests.support.pki import CertAuthority, DeviceBundle
from tests.support.wheels import make_wheel

pytestmark = pytest.mark.e2e

PROD_ENV = {"CMS_PROD_PASSWORD": "cms-lab", "CMS_PROD_KEY_PASSPHRASE": "prod-passphrase"}
READ_ONLY = ("database cluster status", "pki inspect ")


class RecordingUsers(dict[str, str]):
    """The simulator's user table, counting every password check (a login attempt)."""

    def __init__(self, users: dict[str, str]) -> None:
        super().__init__(users)
        self.lookups = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.lookups += 1
        return super().get(key, default)

    @classmethod
    def install(cls, sim: SimulatedCluster) -> RecordingUsers:
        users = cls(sim.users)
        sim.users = users
        return users


@pytest.fixture
def converged(lab_sim: SimulatedCluster, lab_repo: Path) -> SimulatedCluster:
    """The lab applied to convergence with the real CLI."""
    result = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    return lab_sim


@pytest.fixture
def new_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "new-gitops"
    repo.mkdir()
    return repo


def run_import(
    repo: Path,
    addresses: LabAddresses,
    *extra: str,
    nodes: tuple[str, ...] | None = None,
    env: dict[str, str] | None = None,
) -> Any:
    args = ["import", "--cluster", "prod", "--port", str(addresses.port)]
    for address in nodes if nodes is not None else addresses.nodes:
        args += ["--address", address]
    args += ["--password-env", "CMS_PROD_PASSWORD", "--key-passphrase-env"]
    args += ["CMS_PROD_KEY_PASSPHRASE", *extra]
    return reconcile(*args, repo=repo, env=PROD_ENV if env is None else env)


def log_sizes(sim: SimulatedCluster) -> dict[str, int]:
    return {node["name"]: len(node["log"]) for node in sim.snapshot()["nodes"]}


def new_log(sim: SimulatedCluster, before: dict[str, int]) -> dict[str, list[dict[str, str]]]:
    return {node["name"]: node["log"][before[node["name"]] :] for node in sim.snapshot()["nodes"]}


def files_under(repo: Path) -> list[str]:
    return sorted(str(path.relative_to(repo)) for path in repo.rglob("*") if path.is_file())


def no_traceback(*results: Any) -> None:
    for result in results:
        assert "Traceback" not in result.stdout + result.stderr


def import_refused(repo: Path, addresses: LabAddresses) -> str:
    """Import, refused with nothing written (not even the pins); its stderr, the reasons."""
    result = run_import(repo, addresses, "--trust-new-host-keys")
    assert result.returncode == 1, result.stdout + result.stderr
    assert files_under(repo) == []
    no_traceback(result)
    return str(result.stderr)


def only_reads(entries: dict[str, list[dict[str, str]]]) -> None:
    """Nothing but status and pki inspect commands, and SFTP reads."""
    for name, log in entries.items():
        for entry in log:
            if entry["kind"] == "command":
                assert entry["detail"].startswith(READ_ONLY), (name, entry)
            elif entry["kind"] == "sftp":
                assert entry["detail"].split()[0] in ("get", "stat", "listdir"), (name, entry)


def test_a_converged_cluster_imports_and_plans_nothing(
    converged: SimulatedCluster, lab_addresses: LabAddresses, new_repo: Path
) -> None:
    sim = converged
    before = log_sizes(sim)
    users = RecordingUsers.install(sim)

    # Without --trust-new-host-keys: fingerprints and lines, no login, nothing written.
    refused = run_import(new_repo, lab_addresses)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    for address in lab_addresses.nodes:
        assert f"{lab_addresses.pin(address)}  ssh-ed25519 SHA256:" in refused.stderr
        pin = next(line for line in sim.known_hosts_lines() if line.startswith(f"[{address}]"))
        assert pin in refused.stderr
    assert "--trust-new-host-keys" in refused.stderr
    assert files_under(new_repo) == []
    assert new_log(sim, before) == {"cms1": [], "cms2": [], "cms3": []}
    assert users.lookups == 0  # not even a password check: no authentication at all

    # With it: pinned, read, written.
    result = run_import(new_repo, lab_addresses, "--trust-new-host-keys")
    assert result.returncode == 0, result.stdout + result.stderr
    assert users.lookups == 3  # the counter sees logins: one per node, once pinned
    only_reads(new_log(sim, before))
    commands = [entry["detail"] for log in new_log(sim, before).values() for entry in log]
    assert "database cluster status" in commands
    assert "wrote:" in result.stdout
    assert "reconcile validate --cluster prod" in result.stdout
    assert "reconcile plan --cluster prod" in result.stdout
    assert "git add" in result.stdout

    text = (new_repo / "clusters" / "prod.yaml").read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=cluster.schema.json"
    document = yaml.safe_load(text)
    assert document["name"] == "prod"
    assert document["master"] == lab_addresses.cms1
    assert document["nodes"] == [
        {"name": name, "address": address} for name, address in lab_addresses.by_name.items()
    ]
    assert document["ssh"] == {
        "username": "admin",
        "password_env": "CMS_PROD_PASSWORD",
        "port": lab_addresses.port,
        "known_hosts": "clusters/known_hosts",
    }
    assert document["certs"] == {
        "server_key": "certs/prod/dbclusterserver.key",
        "server_cert": "certs/prod/dbclusterserver.cer",
        "client_key": "certs/prod/dbclusterclient.key",
        "client_cert": "certs/prod/dbclusterclient.cer",
        "ca_cert": "certs/prod/CAVD.cer",
        "key_passphrase_env": "CMS_PROD_KEY_PASSPHRASE",
    }
    assert document["renew_before"] == "30d"
    pins = (new_repo / "clusters" / "known_hosts").read_text()
    for line in sim.known_hosts_lines():
        assert line in pins

    # Keys: encrypted with the new passphrase, never in clear anywhere under certs/prod.
    for name in ("dbclusterserver.key", "dbclusterclient.key"):
        data = (new_repo / "certs" / "prod" / name).read_bytes()
        assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        serialization.load_pem_private_key(data, password=b"prod-passphrase")
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(data, password=None)
    for path in (new_repo / "certs").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert b"BEGIN PRIVATE KEY" not in content
            assert b"BEGIN RSA PRIVATE KEY" not in content

    validate = reconcile("validate", "--cluster", "prod", repo=new_repo, env=PROD_ENV)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    plan = reconcile("--plan", "--cluster", "prod", "--format", "json", repo=new_repo, env=PROD_ENV)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert json.loads(plan.stdout)["clusters"][0]["steps"] == []

    # A second import never overwrites.
    again = run_import(new_repo, lab_addresses, "--trust-new-host-keys")
    assert again.returncode == 1
    assert "clusters/prod.yaml already exists" in again.stderr
    no_traceback(refused, result, validate, plan, again)


def test_the_seed_lab_is_refused_with_its_reasons(
    lab_sim: SimulatedCluster, lab_addresses: LabAddresses, new_repo: Path
) -> None:
    before = log_sizes(lab_sim)
    message = import_refused(new_repo, lab_addresses)
    assert "not healthy enough to describe" in message
    assert "dbclusterserver.cer is expired" in message
    assert "not a replica in sync" in message
    only_reads(new_log(lab_sim, before))


def test_a_changed_pinned_key_is_refused_even_with_the_flag(
    converged: SimulatedCluster, lab_addresses: LabAddresses, new_repo: Path
) -> None:
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBU1Bomln9fH1wq1eHPydG0OgwnP0q9H3xcqCnXLIEAA"
    pins = new_repo / "clusters" / "known_hosts"
    pins.parent.mkdir()
    pins.write_text(f"{lab_addresses.pin(lab_addresses.cms2)} {other}\n")
    before = log_sizes(converged)
    result = run_import(new_repo, lab_addresses, "--trust-new-host-keys")
    assert result.returncode == 1
    assert "is CHANGED" in result.stderr
    assert "(line 1)" in result.stderr
    assert pins.read_text() == f"{lab_addresses.pin(lab_addresses.cms2)} {other}\n"
    assert files_under(new_repo) == ["clusters/known_hosts"]
    assert new_log(converged, before) == {"cms1": [], "cms2": [], "cms3": []}
    no_traceback(result)


def test_a_wrong_password_names_its_variable_and_writes_nothing(
    converged: SimulatedCluster, lab_addresses: LabAddresses, new_repo: Path
) -> None:
    env = {**PROD_ENV, "CMS_PROD_PASSWORD": "wrong"}
    result = run_import(new_repo, lab_addresses, "--trust-new-host-keys", env=env)
    assert result.returncode == 1
    assert "CMS_PROD_PASSWORD" in result.stderr
    assert "wrong" not in result.stderr
    assert files_under(new_repo) == []
    no_traceback(result)


def test_missing_variables_are_all_named_before_contacting_anything(
    lab_sim: SimulatedCluster, lab_addresses: LabAddresses, new_repo: Path
) -> None:
    before = log_sizes(lab_sim)
    users = RecordingUsers.install(lab_sim)
    env = {"CMS_PROD_PASSWORD": "", "CMS_PROD_KEY_PASSPHRASE": ""}
    result = run_import(new_repo, lab_addresses, env=env)
    assert result.returncode == 1
    assert "CMS_PROD_PASSWORD (--password-env" in result.stderr
    assert "CMS_PROD_KEY_PASSPHRASE (--key-passphrase-env" in result.stderr
    assert new_log(lab_sim, before) == {"cms1": [], "cms2": [], "cms3": []}
    assert users.lookups == 0
    no_traceback(result)


def test_a_member_not_given_is_refused(
    converged: SimulatedCluster, lab_addresses: LabAddresses, new_repo: Path
) -> None:
    nodes = (lab_addresses.cms1, lab_addresses.cms2)
    result = run_import(new_repo, lab_addresses, "--trust-new-host-keys", nodes=nodes)
    assert result.returncode == 1
    assert f"member {lab_addresses.cms3} was not given as --address" in result.stderr
    assert files_under(new_repo) == []
    no_traceback(result)


def test_an_existing_file_with_other_content_is_never_overwritten(
    converged: SimulatedCluster, lab_addresses: LabAddresses, new_repo: Path
) -> None:
    ca = new_repo / "certs" / "prod" / "CAVD.cer"
    ca.parent.mkdir(parents=True)
    ca.write_text("someone else's CA\n")
    result = run_import(new_repo, lab_addresses, "--trust-new-host-keys")
    assert result.returncode == 1
    assert "certs/prod/CAVD.cer already exists with other content" in result.stderr
    assert files_under(new_repo) == ["certs/prod/CAVD.cer"]
    assert ca.read_text() == "someone else's CA\n"
    no_traceback(result)


def test_keys_sftp_refuses_are_notes_and_the_cluster_file_is_still_written(
    converged: SimulatedCluster, lab_addresses: LabAddresses, new_repo: Path
) -> None:
    for name in ("cms1", "cms2", "cms3"):
        converged.refuse_sftp(name, "get", "*.key")
    before = log_sizes(converged)
    result = run_import(new_repo, lab_addresses, "--trust-new-host-keys")
    assert result.returncode == 2, result.stdout + result.stderr
    only_reads(new_log(converged, before))
    commands = [e["detail"] for log in new_log(converged, before).values() for e in log]
    assert "pki inspect dbclusterserver.key" in commands
    assert (new_repo / "clusters" / "prod.yaml").is_file()
    assert not (new_repo / "certs" / "prod" / "dbclusterserver.key").exists()
    assert (new_repo / "certs" / "prod" / "dbclusterserver.cer").is_file()
    assert "Put that key at certs/prod/dbclusterserver.key" in result.stdout
    assert "openssl pkcs8 -topk8 -v2 aes-256-cbc" in result.stdout
    assert "$CMS_PROD_KEY_PASSPHRASE" in result.stdout
    assert "exit 2" in result.stdout
    no_traceback(result)


def test_from_init_to_an_empty_plan(
    converged: SimulatedCluster, lab_addresses: LabAddresses, tmp_path: Path
) -> None:
    """The whole road of README "Use it on your cluster": init, import, validate, plan."""
    repo = tmp_path / "ours"
    # The pin: a wheel file (no index is asked; the published name is not this test's subject).
    wheel = make_wheel(tmp_path / "wheels", reconciler.__version__)
    init = cli.run(["init", str(repo), "--requirement", str(wheel)])
    assert init.returncode == 0, init.stdout + init.stderr
    header = (repo / "clusters" / "known_hosts").read_text()
    result = run_import(repo, lab_addresses, "--trust-new-host-keys")
    assert result.returncode == 0, result.stdout + result.stderr
    pins = (repo / "clusters" / "known_hosts").read_text()
    assert pins.startswith(header)  # init's comments kept, the pins appended
    assert "clusters/cluster.schema.json" not in result.stdout  # init wrote it already
    validate = reconcile("validate", "--cluster", "prod", repo=repo, env=PROD_ENV)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    plan = reconcile("plan", "--cluster", "prod", repo=repo, env=PROD_ENV)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout
    hostkeys = reconcile("hostkeys", repo=repo)
    assert hostkeys.returncode == 0, hostkeys.stdout
    no_traceback(init, result, validate, plan, hostkeys)


# --- hostile files on the nodes: issue 23, item 4 -------------------------------------------

SERVER_CERT = "dbclusterserver.cer"
JUNK_LINE = b"junk that is no part of any PEM block, repeated to make the file large\n"


NODE_NAMES = ("cms1", "cms2", "cms3")
HUGE_JUNK = 8 * MAX_FILE_BYTES // len(JUNK_LINE)  # junk lines: 8 MiB, 8 times the limit


def serve_on_every_node(sim: SimulatedCluster, name: str, data: bytes) -> None:
    for node in NODE_NAMES:
        sim.node(node).file_path(name).write_bytes(data)


def serve_with_junk(sim: SimulatedCluster, junk: bytes) -> bytes:
    """Every node's server certificate followed by ``junk``; the certificate as it was."""
    pem = sim.node("cms1").file_path(SERVER_CERT).read_bytes()
    serve_on_every_node(sim, SERVER_CERT, pem + junk)
    return pem


def count_served(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Bytes the simulator's SFTP hands out, per file name (its server runs in this process)."""
    served: Counter[str] = Counter()
    original = FlatSFTPHandle.read

    def read(self: FlatSFTPHandle, offset: int, length: int) -> bytes | int:
        data: bytes | int = original(self, offset, length)
        if isinstance(data, bytes):
            served[self._name] += len(data)
        return data

    monkeypatch.setattr(FlatSFTPHandle, "read", read)
    return served


@pytest.mark.reliability(
    section="hostile-input",
    case="import: a node serving an 8 MiB certificate (a valid PEM block plus junk) is refused "
    "before a byte of it is read; nothing written",
)
def test_a_huge_certificate_is_refused_before_it_is_read(
    converged: SimulatedCluster,
    lab_addresses: LabAddresses,
    new_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    junk = JUNK_LINE * HUGE_JUNK
    pem = serve_with_junk(converged, junk)
    served = count_served(monkeypatch)
    message = import_refused(new_repo, lab_addresses)
    assert served[SERVER_CERT] == 0, served  # its size was asked first: not one byte read
    assert sum(served.values()) < 64 * 1024, served  # the other files, a few kilobytes each
    assert "nothing was written" in message
    for node in NODE_NAMES:
        assert f"{node} (" in message
    assert f"server certificate {SERVER_CERT} is {len(pem + junk):,} bytes" in message
    assert "(1 MiB) limit `reconcile validate` sets" in message
    assert "only the PEM block(s)" in message  # what to do


@pytest.mark.reliability(
    section="hostile-input",
    case="import: a certificate whose SFTP size understates it is read no further than the "
    "1 MiB limit, and refused",
)
def test_a_size_that_lies_still_bounds_the_read(
    converged: SimulatedCluster,
    lab_addresses: LabAddresses,
    new_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pem = serve_with_junk(converged, JUNK_LINE * HUGE_JUNK)
    honest = FlatSFTPInterface.stat

    def lying(self: FlatSFTPInterface, path: str) -> paramiko.SFTPAttributes | int:
        attributes = honest(self, path)
        if isinstance(attributes, paramiko.SFTPAttributes) and path.endswith(SERVER_CERT):
            attributes.st_size = len(pem)
        return attributes

    monkeypatch.setattr(FlatSFTPInterface, "stat", lying)
    served = count_served(monkeypatch)
    message = import_refused(new_repo, lab_addresses)
    # Each node's read stops past the limit (SFTP reads come in chunks of 32 KiB at most),
    # where reading the whole file would hand out 8 MiB per node.
    assert 0 < served[SERVER_CERT] <= len(NODE_NAMES) * (MAX_FILE_BYTES + 64 * 1024), served
    assert f"server certificate {SERVER_CERT} is more than {MAX_FILE_BYTES:,} bytes" in message


@pytest.mark.reliability(
    section="hostile-input",
    case="import: a certificate with text outside its PEM block is refused, naming the file, "
    "the nodes and what to do; nothing written",
)
def test_text_outside_the_pem_blocks_is_refused(
    converged: SimulatedCluster, lab_addresses: LabAddresses, new_repo: Path
) -> None:
    junk = JUNK_LINE * 10
    serve_with_junk(converged, junk)
    before = log_sizes(converged)
    message = import_refused(new_repo, lab_addresses)
    only_reads(new_log(converged, before))
    assert "cannot be kept in git as they are (nothing was written)" in message
    assert (
        f"the server certificate {SERVER_CERT} holds {len(junk.strip()):,} bytes of other text "
        "after its last PEM block, on cms1 (" in message
    )
    assert message.count(f"server certificate {SERVER_CERT} holds") == 1  # said once
    assert "put a copy holding only the PEM block(s) on the node(s)" in message


@pytest.mark.reliability(
    section="truthful",
    case="import: a cluster whose files `validate` would refuse (a client certificate without "
    "CN=postgres) is refused before anything is written, not promised an empty plan",
)
def test_files_validate_would_refuse_are_never_written(
    converged: SimulatedCluster, lab_addresses: LabAddresses, new_repo: Path
) -> None:
    # A healthy, in-sync cluster whose files are a bundle validate refuses.
    device = DeviceBundle.make(CertAuthority.make("TEST import CA"), client_cn="not-postgres")
    for lab_name, name in zip(LAB_BUNDLE, device.names, strict=True):
        serve_on_every_node(converged, lab_name, device.files[name])
    message = import_refused(new_repo, lab_addresses)
    assert "does not pass `reconcile validate`" in message
    assert "(nothing was written)" in message
    assert "certs.client_cert: client certificate certs/prod/dbclusterclient.cer has CN " in (
        message
    )
    assert "(read as dbclusterclient.cer from cms1, cms2, cms3)" in message
    assert "Fix that on the nodes and import again" in message
