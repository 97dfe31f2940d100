"""No secret in any output or file: a full apply of the seed with distinctive secrets.

The SSH password and the keys' passphrase are fresh random tokens (the keys in git are
re-encrypted with it), so a hit can only be a leak. Every output of plan (text, JSON,
Markdown), apply, status and validate, and every file the runs leave in the repository
(``.reconcile/``: journal, transcripts, backups, locks; the saved plan), in HOME and in
TMPDIR is searched for each secret in clear, hex and base64 (at every byte alignment,
standard and URL-safe), and for the decrypted private keys: their DER, the lines of their
unencrypted PEM bodies and their private exponent.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import lab_cluster
from tests.support.cli import RECONCILE

pytestmark = pytest.mark.e2e

KEYS = ("certs/lab/dbclusterserver.key", "certs/lab/dbclusterclient.key")
LAB_PASSPHRASE = b"cms-lab"  # what the keys in git are encrypted with


def base64_forms(data: bytes) -> set[str]:
    """``data`` as it would look inside any base64 text, whatever bytes came before it."""
    forms = set()
    for offset in range(3):
        start = -(-offset * 4 // 3)  # characters that also carry the bytes before
        end = (offset + len(data)) * 8 // 6  # the last character may carry bytes after
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.add(encode(b"\0" * offset + data).decode()[start:end])
    return forms


def needles(text: str) -> dict[str, bytes]:
    raw = text.encode()
    found = {"clear": raw, "hex": binascii.hexlify(raw)}
    for number, form in enumerate(sorted(base64_forms(raw))):
        found[f"base64 #{number}"] = form.encode()
    return found


def key_needles(key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    found = {"PKCS#8 DER": der}
    formats = {
        "PKCS#8": serialization.PrivateFormat.PKCS8,
        "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
    }
    for label, encoding in formats.items():
        pem = key.private_bytes(serialization.Encoding.PEM, encoding, serialization.NoEncryption())
        body = pem.decode().splitlines()[1:-1]
        # Past the first lines (modulus: public) every 64-character line is private material.
        for number, line in enumerate(body[8:-1], start=9):
            found[f"{label} PEM line {number}"] = line.encode()
    exponent = key.private_numbers().d
    d_bytes = exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")
    found["d (decimal)"] = str(exponent).encode()
    found["d (hex)"] = f"{exponent:x}".encode()
    for number, form in enumerate(sorted(base64_forms(d_bytes))):
        found[f"d base64 #{number}"] = form.encode()
    return found


@pytest.fixture
def secret_env(lab_repo: Path) -> dict[str, str]:
    """Random password and passphrase; the repository's keys re-encrypted with the latter."""
    env = {
        "CMS_LAB_PASSWORD": "pw-" + secrets.token_urlsafe(24),
        "CMS_LAB_KEY_PASSPHRASE": "pp-" + secrets.token_urlsafe(24),
    }
    for relative in KEYS:
        path = lab_repo / relative
        key = serialization.load_pem_private_key(path.read_bytes(), LAB_PASSPHRASE)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(env["CMS_LAB_KEY_PASSPHRASE"].encode()),
            )
        )
    return env


@pytest.fixture
def secret_sim(
    lab_repo: Path, tmp_path: Path, secret_env: dict[str, str]
) -> Iterator[SimulatedCluster]:
    """The lab in-process, accepting only the random password."""
    with lab_cluster(lab_repo, tmp_path / "sim", env=secret_env) as cluster:
        yield cluster


def run(
    *args: str, repo: Path, env: dict[str, str], home: Path, tmp: Path
) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CMS_")},
        **env,
        "HOME": str(home),
        "TMPDIR": str(tmp),
    }
    return subprocess.run(
        [*RECONCILE, *args, "--repo", str(repo)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
        check=False,
    )


@pytest.mark.reliability(
    section="secrets",
    case="a full apply with random password and passphrase: no secret or private key "
    "material in any output or file written (clear, hex, base64)",
)
def test_no_secret_in_any_output_or_file(
    secret_sim: SimulatedCluster, lab_repo: Path, secret_env: dict[str, str], tmp_path: Path
) -> None:
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    plan_file = lab_repo / "plan.json"

    def reconcile(*args: str) -> subprocess.CompletedProcess[str]:
        return run(*args, repo=lab_repo, env=secret_env, home=home, tmp=tmp)

    results = {
        "validate": reconcile("validate", "--cluster", "lab"),
        "plan text": reconcile("--plan", "--cluster", "lab", "--out", str(plan_file)),
        "plan json": reconcile("--plan", "--cluster", "lab", "--format", "json"),
        "plan markdown": reconcile("--plan", "--cluster", "lab", "--format", "markdown"),
        "apply": reconcile(
            "--apply", "--auto-approve", "--cluster", "lab", "--plan-file", str(plan_file)
        ),
        "status": reconcile("status", "--cluster", "lab"),
        "plan after": reconcile("--plan", "--cluster", "lab", "--format", "markdown"),
    }
    # The run must really have happened, or the search proves nothing.
    assert results["validate"].returncode == 0, results["validate"].stdout
    assert results["plan text"].returncode == 2, results["plan text"].stderr
    assert results["apply"].returncode == 0, results["apply"].stderr
    assert results["plan after"].returncode == 0, results["plan after"].stderr
    uploads = [
        entry
        for node in secret_sim.snapshot()["nodes"]
        for entry in node["log"]
        if entry["kind"] == "sftp" and entry["detail"].startswith("put dbcluster")
    ]
    assert len(uploads) >= 6  # two keys on each of three nodes: the keys were decrypted
    journals = list((lab_repo / ".reconcile" / "journal").glob("*.jsonl"))
    assert journals
    assert "transcript" in journals[0].read_text()

    searched: dict[str, bytes] = {}
    for name, result in results.items():
        searched[f"{name} stdout"] = result.stdout.encode()
        searched[f"{name} stderr"] = result.stderr.encode()
    written = [
        path
        for root in (lab_repo, home, tmp)
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    ]
    assert any(".reconcile" in path.parts for path in written)
    for path in written:
        searched[str(path.relative_to(tmp_path))] = path.read_bytes()

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
    assert len(searched) > 20


@pytest.mark.parametrize("before", [0, 1, 2, 3, 7])
def test_the_search_finds_a_secret_inside_any_base64(before: int) -> None:
    """The scan above can fail: a secret buried in base64 at any alignment is found."""
    secret = "pp-" + secrets.token_urlsafe(24)
    blob = os.urandom(before) + secret.encode() + os.urandom(5)
    for encoded in (base64.b64encode(blob), base64.urlsafe_b64encode(blob)):
        assert any(needle in encoded for needle in needles(secret).values())
    assert not any(
        needle in base64.b64encode(os.urandom(64)) for needle in needles(secret).values()
    )


def test_the_search_finds_a_private_key_in_a_pem_dump() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert any(needle in pem for needle in key_needles(key).values())
    assert not any(needle in public for needle in key_needles(key).values())
