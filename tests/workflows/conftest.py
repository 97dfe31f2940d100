"""The fake GitHub every test of .github/scripts runs its script against."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workflows.support import GitHub, make_github


@pytest.fixture
def github(tmp_path: Path) -> GitHub:
    return make_github(tmp_path)
