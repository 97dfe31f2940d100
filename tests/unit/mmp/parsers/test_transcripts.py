"""Data-driven parser tests: every ``tests/transcripts/**/<name>.txt`` with its ``<name>.json``.

The JSON maps a check name to ``{"result": ...}`` (the parse, dumped as JSON)
or ``{"raises": {"line_number": N, "message": "..."}}``. A new transcript is a
new pair of files, not new code. Transcripts are read as bytes so CRLF and
trailing whitespace reach the parser exactly as recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from reconciler.errors import StatusParseError
from reconciler.mmp import parsers
from reconciler.mmp.models import ClusterStatus

TRANSCRIPTS = Path(__file__).resolve().parents[4] / "tests" / "transcripts"

CHECKS: dict[str, Callable[[str], object]] = {
    "cluster_status": parsers.parse_cluster_status,
    "pki_inspect": parsers.parse_pki_inspect,
    "pki_list": parsers.parse_pki_list,
    "backup_snapshot": parsers.parse_backup_snapshot,
    "backup_list": parsers.parse_backup_list,
    "find_error": parsers.find_error,
    "find_usage": parsers.find_usage,
    "find_rejection": parsers.find_rejection,
    "certs_updated": parsers.check_certs_updated,
}

PAIRS = sorted(TRANSCRIPTS.rglob("*.txt"))


def _jsonable(value: object) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def test_every_transcript_has_expectations() -> None:
    assert len(PAIRS) >= 30
    missing = [p.name for p in PAIRS if not p.with_suffix(".json").exists()]
    assert missing == []
    orphans = [p.name for p in TRANSCRIPTS.rglob("*.json") if not p.with_suffix(".txt").exists()]
    assert orphans == []


@pytest.mark.parametrize("path", PAIRS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_transcript(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    expectations: dict[str, dict[str, Any]] = json.loads(path.with_suffix(".json").read_text())
    assert expectations, "no checks"
    for check, expected in expectations.items():
        parse = CHECKS[check]
        if "raises" in expected:
            with pytest.raises(StatusParseError) as caught:
                parse(text)
            assert caught.value.line_number == expected["raises"]["line_number"], check
            assert expected["raises"]["message"] in str(caught.value), check
            if caught.value.line is not None:
                # The message quotes the offending line verbatim.
                assert repr(caught.value.line) in str(caught.value)
        else:
            result = parse(text)
            assert _jsonable(result) == expected["result"], check
            if isinstance(result, ClusterStatus):
                assert ClusterStatus.model_validate(expected["result"]) == result


def test_reference_status_1_3_6_verbatim_is_refused() -> None:
    """S2's copy lost its line breaks; a status we cannot split into lines is not understood."""
    text = (TRANSCRIPTS / "reference" / "status_1_3_6_verbatim_no_line_breaks.txt").read_text()
    with pytest.raises(StatusParseError, match="line 1") as caught:
        parsers.parse_cluster_status(text)
    assert caught.value.line is not None
    assert caught.value.line.startswith("Status                   : Enabled Nodes:")


def test_reference_transcripts_are_the_reference_text() -> None:
    """Every reference transcript occurs verbatim in the device reference (docs/)."""
    reference = Path(__file__).resolve().parents[4] / "docs" / "cms-mmp-reference.md"
    text = reference.read_text()
    for path in sorted((TRANSCRIPTS / "reference").glob("*.txt")):
        assert path.read_text() in text, path.name
