"""Writing a bundle: all files or none, and never a private key in clear."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from reconciler.certs.writing import create_files, write_files
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


def test_create_files_makes_new_files_only(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "out"
    made = create_files(folder, {"x.cer": b"x\n", "y.cer": b"y\n"})
    assert made == [folder / "x.cer", folder / "y.cer"]
    assert (folder / "y.cer").read_bytes() == b"y\n"
    assert (folder / "x.cer").stat().st_mode & 0o777 == 0o644
    with pytest.raises(ConfigError, match=r"y.cer already exists: refusing to replace a file"):
        create_files(folder, {"z.cer": b"z\n", "y.cer": b"other\n"})
    assert sorted(path.name for path in folder.iterdir()) == ["x.cer", "y.cer"]
    assert (folder / "y.cer").read_bytes() == b"y\n"


def _link_then(fail: str, action: str) -> object:
    """``os.link`` that, for the file named ``fail``, fails or lets another make it first."""
    real = os.link

    def link(source: Path, target: Path) -> None:
        if target.name == fail:
            if action == "full":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            target.write_bytes(b"theirs\n")
        real(source, target)

    return link


def test_create_files_leaves_nothing_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "link", _link_then("y.cer", "full"))
    with pytest.raises(
        ConfigError, match=r"cannot write .*y.cer: No space left on device; nothing"
    ):
        create_files(tmp_path / "new" / "out", {"x.cer": b"x\n", "y.cer": b"y\n"})
    assert list(tmp_path.iterdir()) == []  # the folders it made are gone too


def test_create_files_never_replaces_a_file_made_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "link", _link_then("y.cer", "race"))
    with pytest.raises(ConfigError, match=r"y.cer appeared while writing: refusing to replace it"):
        create_files(tmp_path, {"x.cer": b"x\n", "y.cer": b"y\n"})
    assert [path.name for path in tmp_path.iterdir()] == ["y.cer"]
    assert (tmp_path / "y.cer").read_bytes() == b"theirs\n"
