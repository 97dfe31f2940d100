"""Pytest plugin behind docs/reliability.md: what each reliability-marked test proved.

The document is regenerated from a test run, never written by hand, so a row can only say
"passed" when its test passed in that run. Under pytest-xdist the tests run in workers and
only reports reach the controller; the marker's section and case therefore travel in
``item.user_properties`` (which reports carry), beside the test's own ``record_property``
values such as the number of examples a fuzz test ran.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

MARKER = "reliability"
SECTIONS = ("fault-matrix", "hostile-input", "secrets", "fuzzing", "interop", "truthful")
_SECTION = "reliability_section"
_CASE = "reliability_case"


@dataclass
class ReliabilityResult:
    """One marked test's row: the worst outcome over its setup, call and teardown."""

    nodeid: str
    section: str
    case: str
    outcome: str = "passed"
    duration: float = 0.0
    properties: dict[str, Any] = field(default_factory=dict)
    message: str = ""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reliability")
    group.addoption(
        "--reliability-json",
        metavar="PATH",
        default=None,
        help="write the outcome of every reliability-marked test to PATH (JSON)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(section, case): a row of docs/reliability.md ({', '.join(SECTIONS)})"
    )
    config.pluginmanager.register(_Recorder(config), "reliability-recorder")


def _outcome(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return "xpassed" if report.passed else "xfailed"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    return str(report.outcome)


# A row shows the worst of its phases: a test whose teardown failed did not pass.
_SEVERITY = {"passed": 0, "xfailed": 1, "skipped": 2, "xpassed": 3, "failed": 4, "error": 5}


def _first_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(getattr(crash, "message", None) or report.longrepr or "").strip()
    return text.splitlines()[0][:200] if text else ""


class _Recorder:
    """One per pytest run (pytester runs nest), so rows never leak between runs."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: dict[str, ReliabilityResult] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Put the marker's data where reports carry it; refuse a marker that names no row."""
        for item in items:
            marker = item.get_closest_marker(MARKER)
            if marker is None:
                continue
            section = marker.kwargs.get("section")
            case = marker.kwargs.get("case")
            if section not in SECTIONS or not isinstance(case, str) or not case.strip():
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.reliability needs section= one of "
                    f"{', '.join(SECTIONS)} and a non-empty case= (got {marker.kwargs!r})"
                )
            item.user_properties.append((_SECTION, section))
            item.user_properties.append((_CASE, case))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Runs in the controller under xdist (and in the only process without it)."""
        properties = dict(report.user_properties)
        section = properties.pop(_SECTION, None)
        case = properties.pop(_CASE, None)
        if section is None or case is None:
            return
        result = self.results.setdefault(
            report.nodeid, ReliabilityResult(report.nodeid, str(section), str(case))
        )
        result.duration += report.duration
        result.properties.update(properties)
        outcome = _outcome(report)
        if _SEVERITY[outcome] > _SEVERITY[result.outcome]:
            result.outcome = outcome
        if report.failed and not result.message:
            result.message = _first_line(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.config.getoption("--reliability-json")
        if path is None or hasattr(self.config, "workerinput"):  # the controller writes
            return
        results = sorted(self.results.values(), key=lambda r: (r.section, r.nodeid))
        document = {
            "generated": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["pytest", *self.config.invocation_params.args]),
            "exitstatus": int(session.exitstatus),
            "results": [asdict(result) for result in results],
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, indent=2, default=str) + "\n")
