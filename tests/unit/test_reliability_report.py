"""docs/reliability.md must report what the run proved: a failing row must read as failing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from scripts.reliability_report import main, render
from tests.support.lab import REPO

SAMPLE = """
import pytest

@pytest.mark.reliability(section="fuzzing", case="a parser survives noise")
def test_fuzzed(record_property):
    record_property("examples", 123)

@pytest.mark.reliability(section="hostile-input", case="a semicolon in a file name is refused")
def test_broken():
    assert 1 + 1 == 3, "validator let it through"

@pytest.mark.reliability(section="hostile-input", case="teardown trouble")
def test_teardown_fails(broken_teardown):
    pass

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("cleanup failed")

@pytest.mark.reliability(section="fuzzing", case="one row, two tests")
@pytest.mark.parametrize("good", [True, False])
def test_folded(good):
    assert good, "the second parametrization fails"

def test_unmarked():
    pass
"""


def _run(pytester: pytest.Pytester, *extra: str) -> dict[str, Any]:
    pytester.makepyfile(test_sample=SAMPLE)
    out = pytester.path / "results.json"
    # A subprocess, with the project importable, as `make reliability` runs it (xdist too).
    pytester.syspathinsert(REPO)
    result = pytester.runpytest_subprocess(
        "-p", "tests.support.reliability", "--reliability-json", str(out), *extra
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    document: dict[str, Any] = json.loads(out.read_text())
    return document


@pytest.fixture
def importable(monkeypatch: pytest.MonkeyPatch) -> None:
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), path) if p))


@pytest.mark.usefixtures("importable")
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_failing_case_is_reported_failing(pytester: pytest.Pytester, workers: list[str]) -> None:
    document = _run(pytester, "-p", "no:cacheprovider", *workers)
    rows = {row["case"]: row for row in document["results"]}
    assert set(rows) == {
        "a parser survives noise",
        "a semicolon in a file name is refused",
        "teardown trouble",
        "one row, two tests",
    }
    assert len(document["results"]) == 5
    assert rows["a parser survives noise"]["outcome"] == "passed"
    assert rows["a parser survives noise"]["properties"] == {"examples": 123}
    assert rows["a semicolon in a file name is refused"]["outcome"] == "failed"
    assert "validator let it through" in rows["a semicolon in a file name is refused"]["message"]
    assert rows["teardown trouble"]["outcome"] == "error"

    markdown = render(document, "make reliability")
    broken = next(line for line in markdown.splitlines() if "semicolon" in line)
    assert "**FAILED**" in broken
    assert "passed" not in broken.replace("**FAILED**", "")
    assert "| 123 |" in markdown
    assert "2 of 5 reliability tests passed" in markdown
    assert "0 of 2 tests passed" in markdown  # the hostile-input section: failed and error
    folded = next(line for line in markdown.splitlines() if "one row, two tests" in line)
    assert "**FAILED** (1 of 2 not passed" in folded
    assert "test_folded[False, True]" in folded


def test_report_exits_non_zero_when_a_row_failed(tmp_path: Path) -> None:
    results = tmp_path / "r.json"
    row = {"nodeid": "t.py::x", "section": "secrets", "case": "c", "properties": {}}
    results.write_text(json.dumps({"results": [{**row, "outcome": "failed", "message": "m"}]}))
    assert main([str(results), str(tmp_path / "out.md")]) == 1
    assert "**FAILED**: m" in (tmp_path / "out.md").read_text()
    results.write_text(json.dumps({"results": [{**row, "outcome": "passed"}]}))
    assert main([str(results), str(tmp_path / "out.md")]) == 0


def test_marker_without_a_known_section_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.reliability(section="misc", case="x")
        def test_x():
            pass
        """
    )
    pytester.syspathinsert(REPO)
    result = pytester.runpytest_inprocess("-p", "tests.support.reliability")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*reliability needs section=*"])


def test_no_results_keeps_the_last_document(tmp_path: Path) -> None:
    """A run that never started must not leave an old document looking current."""
    output = tmp_path / "out.md"
    output.write_text("previous\n")
    assert main([str(tmp_path / "missing.json"), str(output)]) == 2
    assert output.read_text() == "previous\n"
