"""``backup snapshot`` and ``backup list``."""

from __future__ import annotations

import pytest

from reconciler.errors import StatusParseError
from reconciler.mmp.models import BackupSnapshot
from reconciler.mmp.parsers import parse_backup_list, parse_backup_snapshot


def test_snapshot() -> None:
    text = "cms1> backup snapshot pre-2025\r\npre-2025.bak ready for download\r\ncms1> "
    expected = BackupSnapshot(name="pre-2025", file="pre-2025.bak")
    assert parse_backup_snapshot(text) == expected
    assert parse_backup_snapshot("pre-2025.bak ready for download\n", name="pre-2025") == expected


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("cms1> backup snapshot\nUsage:\n  backup snapshot <name>\n", "Usage:"),
        ("ERROR: disk full\n", "ERROR: disk full"),
        ("a.bak ready for download\nb.bak ready for download\n", "b.bak ready for download"),
        ("a.bak ready\n", "a.bak ready"),
        ("cms1> backup snapshot a\nb.bak ready for download\n", "b.bak ready for download"),
        ("cms1> backup list\na.bak ready for download\n", "cms1> backup list"),
    ],
)
def test_snapshot_refused(text: str, quoted: str) -> None:
    with pytest.raises(StatusParseError) as caught:
        parse_backup_snapshot(text)
    assert caught.value.line == quoted


def test_snapshot_of_another_name_refused() -> None:
    with pytest.raises(StatusParseError, match="not named 'b'"):
        parse_backup_snapshot("a.bak ready for download\n", name="b")


def test_snapshot_empty_refused() -> None:
    with pytest.raises(StatusParseError, match="empty output"):
        parse_backup_snapshot("cms1> backup snapshot a\ncms1> ")


def test_list_collects_bak_tokens() -> None:
    text = "cms1> backup list\na.bak  2025-01-01\n  'b.bak', a.bak\nc.json\n.bak\ncms1> "
    assert parse_backup_list(text).files == ("a.bak", "b.bak")


@pytest.mark.parametrize("text", ["ERROR: no\n", "Usage:\n  backup list\n"])
def test_list_refuses_rejections(text: str) -> None:
    with pytest.raises(StatusParseError, match="refused"):
        parse_backup_list(text)
