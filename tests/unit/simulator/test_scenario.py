"""Scenario files are read from the repo like cluster files: no aliases, no huge files."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.simulator.scenario import SCENARIO_FILE, load_scenario

REPO = Path(__file__).resolve().parents[3]
MAX_FILE_BYTES = 1_048_576  # 1 MiB


def test_lab_scenario_loads() -> None:
    assert load_scenario(REPO / "sim" / "lab")["cluster"]


def test_scenario_with_an_alias_is_refused(tmp_path: Path) -> None:
    (tmp_path / SCENARIO_FILE).write_text("wording: &w master_slave\nother: *w\n")
    with pytest.raises(ConfigError, match=r"line 1, column 10: YAML anchors and aliases"):
        load_scenario(tmp_path)


def test_oversized_scenario_is_refused(tmp_path: Path) -> None:
    (tmp_path / SCENARIO_FILE).write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConfigError, match=r"is 1,048,577 bytes, over the 1,048,576-byte"):
        load_scenario(tmp_path)
