"""Helpers of the certs tests: a written test repository and CA files outside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from reconciler.desired.validate import run_validate
from tests.unit.desired.labrepo import CLUSTER

ACTOR = git.Actor("test", "test@example.com")  # who the tests' commits are by


@dataclass
class Repo:
    """A copy of the test cluster ``t`` (tests/unit/desired/labrepo.py) on disk."""

    root: Path
    env: dict[str, str]

    def snapshot(self) -> dict[str, bytes]:
        """Every file under the repository (git's own excepted), by relative path (to prove
        nothing was written)."""
        return {
            relative: path.read_bytes()
            for path in sorted(self.root.rglob("*"))
            if path.is_file()
            and not (relative := path.relative_to(self.root).as_posix()).startswith(".git/")
        }

    def commit(self, message: str = "bundle") -> None:
        """Commit every file as it is (a git repository is made the first time)."""
        repository = git.Repo.init(self.root)
        try:
            repository.git.add(A=True)
            repository.index.commit(message, author=ACTOR, committer=ACTOR)
        finally:
            repository.close()

    def validate(self) -> tuple[int, str]:
        output, code = run_validate(self.root, [CLUSTER], None, "text", env=self.env)
        return code, output


def write_ca(
    folder: Path, cert_pem: bytes, key: PrivateKeyTypes, passphrase: str | None = None
) -> tuple[Path, Path]:
    """The CA's certificate and key as files outside the repository."""
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "ca.pem", folder / "ca.key"
    cert_path.write_bytes(cert_pem)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return cert_path, key_path
