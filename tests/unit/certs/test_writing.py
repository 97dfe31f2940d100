"""Writing a bundle: all files or none, and never a private key in clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.certs.writing import write_files
from reconciler.errors import ConfigError
from tests.unit.desired.pki import Pki, encrypted_key, plaintext_key


def test_a_clear_key_is_never_written(tmp_path: Path, pki: Pki) -> None:
    with pytest.raises(ConfigError, match="unencrypted private key"):
        write_files(tmp_path, {"a.cer": b"cert\n", "b.key": plaintext_key(pki.spare_key)})
    assert list(tmp_path.iterdir()) == []


def test_all_or_nothing(tmp_path: Path, pki: Pki) -> None:
    (tmp_path / "old.key").write_bytes(b"old")
    (tmp_path / "blocked").write_text("a file where a folder would be needed")
    with pytest.raises((FileExistsError, NotADirectoryError)):
        write_files(
            tmp_path,
            {"old.key": encrypted_key(pki.spare_key), "blocked/new.cer": b"cert\n"},
        )
    assert (tmp_path / "old.key").read_bytes() == b"old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["blocked", "old.key"]


def test_keys_are_private_and_certificates_readable(tmp_path: Path, pki: Pki) -> None:
    write_files(tmp_path, {"s.key": encrypted_key(pki.spare_key), "s.cer": b"cert\n"})
    assert (tmp_path / "s.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "s.cer").stat().st_mode & 0o777 == 0o644


def test_a_path_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "link").symlink_to(tmp_path)
    with pytest.raises(ConfigError, match="outside the repository"):
        write_files(tmp_path / "repo", {"link/x.cer": b"cert\n"})
