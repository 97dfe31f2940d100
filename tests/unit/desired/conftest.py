"""Session-wide keys (slow to make) and a fresh valid repository per test (cheap)."""

from __future__ import annotations

import pytest

from tests.unit.desired.labrepo import LabRepo, fresh_repo, good_files
from tests.unit.desired.pki import Pki, build_pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    return build_pki()


@pytest.fixture(scope="session")
def base_files(pki: Pki) -> dict[str, bytes]:
    return good_files(pki)


@pytest.fixture
def repo(base_files: dict[str, bytes]) -> LabRepo:
    return fresh_repo(base_files)
