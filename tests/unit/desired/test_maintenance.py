"""``maintenance:`` in a cluster file (issue 26): what is accepted, and what each mistake says."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from reconciler.desired.models import ClusterSpec, MaintenanceSpec
from reconciler.desired.schema import cluster_json_schema
from reconciler.desired.specerrors import findings_from_validation_error
from tests.unit.desired.labrepo import LabRepo, good_doc

ISSUE_EXAMPLE = """\
maintenance:
  timezone: Europe/Berlin          # IANA name; default UTC
  windows:
    - {days: [sat, sun], start: "02:00", duration: 4h}   # days optional: every day
  outside: refuse                   # refuse (default when windows are given) or allow
"""


def _document(maintenance: Any) -> dict[str, Any]:
    document = good_doc()
    document["maintenance"] = maintenance
    return document


def _errors(maintenance: Any) -> list[tuple[str, str]]:
    """(key, message) of every finding the loader would report for this ``maintenance``."""
    with pytest.raises(ValidationError) as caught:
        ClusterSpec.model_validate(_document(maintenance))
    findings = findings_from_validation_error(caught.value, ClusterSpec, "clusters/t.yaml")
    return [(finding.key, finding.message) for finding in findings]


def _window(**fields: Any) -> dict[str, Any]:
    return {"windows": [{"start": "02:00", "duration": "4h", **fields}]}


def test_the_issue_example_is_accepted_as_written() -> None:
    document = good_doc()
    document.update(yaml.safe_load(ISSUE_EXAMPLE))
    spec = ClusterSpec.model_validate(document)
    assert spec.maintenance is not None
    assert spec.maintenance.timezone == "Europe/Berlin"
    assert spec.maintenance.outside == "refuse"
    (window,) = spec.maintenance.windows
    assert window.days == ["sat", "sun"]
    assert window.start == "02:00"
    assert window.duration == timedelta(hours=4)


def test_no_maintenance_key_means_none() -> None:
    assert ClusterSpec.model_validate(good_doc()).maintenance is None


def test_defaults_utc_every_day_refuse() -> None:
    spec = MaintenanceSpec.model_validate({"windows": [{"start": "23:30", "duration": 90}]})
    assert spec.timezone == "UTC"
    assert spec.outside == "refuse"
    assert spec.windows[0].days is None
    assert spec.windows[0].duration == timedelta(seconds=90)


@pytest.mark.parametrize("duration", ["7d", "1w", "1h30m", "1s", 604800])
def test_durations_up_to_a_week(duration: object) -> None:
    MaintenanceSpec.model_validate(_window(duration=duration))


def test_json_dump_round_trips() -> None:
    spec = MaintenanceSpec.model_validate(yaml.safe_load(ISSUE_EXAMPLE)["maintenance"])
    dumped = spec.model_dump(mode="json")
    assert dumped["windows"][0]["duration"] == "4h"
    assert MaintenanceSpec.model_validate(dumped) == spec


@pytest.mark.parametrize(
    ("maintenance", "key", "message"),
    [
        (
            {"timezone": "Europe/Berln", **_window()},
            "maintenance.timezone",
            "unknown time zone 'Europe/Berln': use an IANA name such as Europe/Berlin or UTC",
        ),
        ({"timezone": "utc", **_window()}, "maintenance.timezone", "unknown time zone 'utc'"),
        ({"timezone": "../etc/x", **_window()}, "maintenance.timezone", "unknown time zone"),
        ({"timezone": "", **_window()}, "maintenance.timezone", "unknown time zone ''"),
        ({"timezone": "localtime", **_window()}, "maintenance.timezone", "depends on the host"),
        (_window(days=["sat", "Sun"]), "maintenance.windows[0].days[1]", "unknown day 'Sun'"),
        (_window(days=["saturday"]), "maintenance.windows[0].days[0]", "use mon, tue, wed"),
        (_window(days=["sat", "sat"]), "maintenance.windows[0].days", "lists 'sat' twice"),
        (_window(days=[]), "maintenance.windows[0].days", "omit days to mean every day"),
        (_window(days="sat"), "maintenance.windows[0].days", "expected a list"),
        (_window(start="24:00"), "maintenance.windows[0].start", "'24:00' is not a time of day"),
        (_window(start="2:0"), "maintenance.windows[0].start", "write HH:MM on a 24-hour clock"),
        (_window(start="2:00"), "maintenance.windows[0].start", "write HH:MM"),
        (_window(start="12:60"), "maintenance.windows[0].start", "00:00 to 23:59"),
        (_window(start="02:00:00"), "maintenance.windows[0].start", "write HH:MM"),
        (_window(start=1380), "maintenance.windows[0].start", 'start: "23:00"'),
        (_window(start=True), "maintenance.windows[0].start", "in quotes"),
        (_window(duration="0s"), "maintenance.windows[0].duration", "longer than zero"),
        (_window(duration=0), "maintenance.windows[0].duration", "longer than zero"),
        (_window(duration="8d"), "maintenance.windows[0].duration", "8d is longer than 7d"),
        (_window(duration="4 hours"), "maintenance.windows[0].duration", "not a duration"),
        ({"windows": []}, "maintenance.windows", "lists no window"),
        ({}, "maintenance.windows", "required key 'windows' is missing"),
        ({**_window(), "outside": "warn"}, "maintenance.outside", "'refuse' or 'allow'"),
        ({**_window(), "timzone": "UTC"}, "maintenance.timzone", "did you mean 'timezone'?"),
        (_window(length="4h"), "maintenance.windows[0].length", "unknown key 'length'"),
        ("sat 02:00", "maintenance", "expected a mapping"),
    ],
    ids=lambda value: value if isinstance(value, str) and "." not in value else None,
)
def test_mistakes_name_the_key_and_the_fix(maintenance: Any, key: str, message: str) -> None:
    errors = _errors(maintenance)
    assert any(where == key and message in text for where, text in errors), errors


def test_unquoted_yaml_time_gets_a_hint() -> None:
    """PyYAML reads ``start: 23:00`` as the base-60 integer 1380; the message says so."""
    parsed = yaml.safe_load("windows: [{start: 23:00, duration: 4h}]")
    assert parsed["windows"][0]["start"] == 1380
    ((key, message),) = _errors(parsed)
    assert key == "maintenance.windows[0].start"
    assert "YAML reads an unquoted 23:00 as a base-60 number" in message


def test_every_valid_start_is_accepted() -> None:
    for hour in range(24):
        for minute in (0, 7, 59):
            MaintenanceSpec.model_validate(_window(start=f"{hour:02d}:{minute:02d}"))


def test_the_schema_agrees_with_the_model() -> None:
    validator = jsonschema.Draft202012Validator(cluster_json_schema())
    good = yaml.safe_load(ISSUE_EXAMPLE)["maintenance"]
    assert list(validator.iter_errors(_document(good))) == []
    assert (
        list(validator.iter_errors(_document({"windows": [{"start": "00:00", "duration": 60}]})))
        == []
    )
    bad_documents: list[dict[str, Any]] = [
        _window(start="24:00"),
        _window(days=["Sat"]),
        _window(days=["sat", "sat"]),
        _window(days=[]),
        {"windows": []},
        {**_window(), "outside": "warn"},
        _window(length="4h"),
    ]
    for bad in bad_documents:
        assert list(validator.iter_errors(_document(bad))), bad
    described = cluster_json_schema()["$defs"]["MaintenanceSpec"]
    assert set(described["properties"]) == {"timezone", "windows", "outside"}
    assert described["required"] == ["windows"]


def test_validate_reports_the_key_and_exits_1(repo: LabRepo, tmp_path: Path) -> None:
    """Through ``reconcile validate``: a misspelt zone is an error at its key and line."""
    repo.text = repo.yaml_text() + ISSUE_EXAMPLE.replace("Europe/Berlin", "Europe/Berln")
    findings, code = repo.findings(tmp_path)
    assert code == 1
    (finding,) = [f for f in findings if f["severity"] == "error"]
    assert finding["key"] == "maintenance.timezone"
    assert "unknown time zone 'Europe/Berln'" in finding["message"]
    assert "Europe/Berln" in repo.text.splitlines()[finding["line"] - 1]


def test_validate_accepts_the_issue_example(repo: LabRepo, tmp_path: Path) -> None:
    repo.text = repo.yaml_text() + ISSUE_EXAMPLE
    findings, code = repo.findings(tmp_path)
    assert code == 0, findings
