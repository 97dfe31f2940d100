"""Scenario files are read from the repo like cluster files: no aliases, no huge files."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.simulator.scenario import SCENARIO_FILE, load_host_key, load_scenario
from tests.support.lab import LAB_MATERIAL

REPO = Path(__file__).resolve().parents[3]
MAX_FILE_BYTES = 1_048_576  # 1 MiB


def test_lab_scenario_loads() -> None:
    assert load_scenario(LAB_MATERIAL / "sim" / "lab")["cluster"]


def test_scenario_with_an_alias_is_refused(tmp_path: Path) -> None:
    (tmp_path / SCENARIO_FILE).write_text("wording: &w master_slave\nother: *w\n")
    with pytest.raises(ConfigError, match=r"line 1, column 10: YAML anchors and aliases"):
        load_scenario(tmp_path)


def test_oversized_scenario_is_refused(tmp_path: Path) -> None:
    (tmp_path / SCENARIO_FILE).write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConfigError, match=r"is 1,048,577 bytes, over the 1,048,576-byte"):
        load_scenario(tmp_path)


def test_a_host_key_is_decrypted_once_whatever_folder_holds_it(tmp_path: Path) -> None:
    copies = []
    for index in range(2):
        copy = tmp_path / f"copy{index}" / "cms1.key"
        copy.parent.mkdir()
        copy.write_bytes((LAB_MATERIAL / "sim" / "lab" / "host_keys" / "cms1.key").read_bytes())
        copies.append(copy)
    first, second = (load_host_key(copy, "cms-lab") for copy in copies)
    assert second is first  # the same key object: the bcrypt KDF ran once


@pytest.mark.parametrize(
    ("content", "passphrase"),
    [(None, "wrong"), (b"not a key\n", "cms-lab"), (b"\xff\xfe binary", "cms-lab")],
)
def test_an_unloadable_host_key_names_its_file(
    tmp_path: Path, content: bytes | None, passphrase: str
) -> None:
    key = tmp_path / "cms1.key"
    key.write_bytes(
        content or (LAB_MATERIAL / "sim" / "lab" / "host_keys" / "cms1.key").read_bytes()
    )
    with pytest.raises(ConfigError, match=rf"{key}: cannot load the simulated node's host key"):
        load_host_key(key, passphrase)
