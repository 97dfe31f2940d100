"""A written copy of the test cluster ``t`` per test, and the session's CAs and keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.certs.support import Repo
from tests.unit.desired.labrepo import fresh_repo, good_files
from tests.unit.desired.pki import Pki, build_pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    return build_pki()


@pytest.fixture(scope="session")
def base_files(pki: Pki) -> dict[str, bytes]:
    return good_files(pki)


@pytest.fixture
def repo(base_files: dict[str, bytes], tmp_path: Path) -> Repo:
    """The test cluster, committed: what the certs commands write over is in git."""
    lab = fresh_repo(base_files)
    root = lab.write(tmp_path / "repo")
    written = Repo(root, dict(lab.env))
    written.commit()
    return written
