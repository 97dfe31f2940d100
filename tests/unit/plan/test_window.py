"""Maintenance windows (issue 26) on a fixed clock: open, closed, about to close, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from reconciler.desired.models import WEEKDAYS, MaintenanceSpec
from reconciler.plan.window import (
    Span,
    WindowReport,
    describe_start,
    iso_utc,
    local_text,
    may_apply,
    next_window,
    relative,
    window_at,
    window_report,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# 2026-12-09 is a Wednesday, 2026-12-12 a Saturday (Berlin on CET, UTC+1).
WEDNESDAY = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def spec(*windows: dict[str, Any], tz: str = "UTC", outside: str = "refuse") -> MaintenanceSpec:
    return MaintenanceSpec.model_validate(
        {"timezone": tz, "windows": list(windows), "outside": outside}
    )


WEEKEND = spec({"days": ["sat", "sun"], "start": "02:00", "duration": "4h"}, tz="Europe/Berlin")


def report(
    maintenance: MaintenanceSpec, now: datetime, expected: int = 600, needed: bool = True
) -> WindowReport:
    result = window_report(maintenance, needed=needed, now=now, expected_seconds=expected)
    assert result is not None
    return result


# --- open, closed, about to close ---------------------------------------------------------


def test_open_window_allows_and_says_when_it_closes() -> None:
    now = utc(2026, 12, 12, 2, 0)  # Sat 03:00 CET
    assert window_at(WEEKEND, now) == Span(utc(2026, 12, 12, 1, 0), utc(2026, 12, 12, 5, 0))
    result = report(WEEKEND, now)
    assert result.open_now
    assert result.fits
    assert result.needed
    assert (result.next_start, result.next_end) == (
        "2026-12-12T01:00:00+00:00",
        "2026-12-12T05:00:00+00:00",
    )
    decision = may_apply(result, now=now)
    assert decision.allowed
    assert not decision.deferred
    assert decision.outcome == "ok"
    assert (
        decision.reason == "inside the maintenance window, which closes Sat 06:00 CET (05:00 UTC)"
    )


def test_closed_window_defers_and_says_when_the_next_opens() -> None:
    assert window_at(WEEKEND, WEDNESDAY) is None
    assert next_window(WEEKEND, WEDNESDAY) == Span(utc(2026, 12, 12, 1, 0), utc(2026, 12, 12, 5, 0))
    result = report(WEEKEND, WEDNESDAY)
    assert not result.open_now
    assert result.next_start == "2026-12-12T01:00:00+00:00"
    decision = may_apply(result, now=WEDNESDAY)
    assert decision.deferred
    assert decision.outcome == "deferred"
    assert decision.reason == (
        "deferred: outside the maintenance windows; the next opens Sat 02:00 CET "
        "(01:00 UTC), in 2 days 15 h"
    )


@pytest.mark.parametrize(("expected", "fits"), [(0, True), (1800, True), (1801, False)])
def test_about_to_close_starts_only_if_the_plan_fits(expected: int, fits: bool) -> None:
    now = utc(2026, 12, 12, 4, 30)  # Sat 05:30 CET, the window closes at 06:00 CET
    result = report(WEEKEND, now, expected=expected)
    assert result.open_now
    assert result.fits is fits
    decision = may_apply(result, now=now)
    assert decision.allowed is fits
    if not fits:
        assert decision.outcome == "does_not_fit"
        assert decision.reason == (
            "does not fit: the plan may take up to 30 min and the window closes "
            "Sat 06:00 CET (05:00 UTC), in 30 min"
        )


def test_start_is_inclusive_and_end_exclusive() -> None:
    assert window_at(WEEKEND, utc(2026, 12, 12, 1, 0)) is not None
    assert window_at(WEEKEND, utc(2026, 12, 12, 0, 59, 59)) is None
    assert window_at(WEEKEND, utc(2026, 12, 12, 5, 0)) is None
    # At the very start the window is open; the next one is Sunday's.
    assert next_window(WEEKEND, utc(2026, 12, 12, 1, 0)) == Span(
        utc(2026, 12, 13, 1, 0), utc(2026, 12, 13, 5, 0)
    )


def test_closed_and_the_next_window_is_too_short() -> None:
    result = report(WEEKEND, WEDNESDAY, expected=5 * 3600)
    assert not result.fits
    assert may_apply(result, now=WEDNESDAY).reason.endswith(
        "; the plan may take up to 5 h, longer than that window (4 h)"
    )


# --- shapes of windows --------------------------------------------------------------------


def test_a_window_belongs_to_its_start_day_across_midnight() -> None:
    saturday_night = spec({"days": ["sat"], "start": "23:00", "duration": "4h"})
    sunday_0130 = utc(2026, 12, 13, 1, 30)
    assert window_at(saturday_night, sunday_0130) == Span(
        utc(2026, 12, 12, 23, 0), utc(2026, 12, 13, 3, 0)
    )
    assert window_at(saturday_night, utc(2026, 12, 13, 23, 30)) is None  # Sunday 23:30
    assert next_window(saturday_night, utc(2026, 12, 12, 22, 59)) == Span(
        utc(2026, 12, 12, 23, 0), utc(2026, 12, 13, 3, 0)
    )


def test_every_day_when_days_are_omitted() -> None:
    nightly = spec({"start": "02:00", "duration": "1h"})
    for offset in range(7):
        now = WEDNESDAY + timedelta(days=offset)
        start = now.replace(hour=2) + timedelta(days=1)
        assert next_window(nightly, now) == Span(start, start + timedelta(hours=1))
    assert describe_start(utc(2026, 12, 10, 2, 0), "UTC", WEDNESDAY) == "Thu 02:00 UTC, in 16 h"


def test_multiple_windows_pick_the_nearest() -> None:
    two = spec(
        {"days": ["tue"], "start": "22:00", "duration": "2h"},
        {"days": ["sat"], "start": "02:00", "duration": "4h"},
    )
    assert next_window(two, WEDNESDAY) == Span(utc(2026, 12, 12, 2, 0), utc(2026, 12, 12, 6, 0))
    sunday = utc(2026, 12, 13, 12, 0)
    assert next_window(two, sunday) == Span(utc(2026, 12, 15, 22, 0), utc(2026, 12, 16, 0, 0))
    assert window_at(two, utc(2026, 12, 15, 23, 59)) is not None


@pytest.mark.parametrize(
    ("second", "end"),
    [
        (
            {"days": ["sat"], "start": "06:00", "duration": "2h"},
            utc(2026, 12, 12, 8, 0),
        ),  # adjacent
        ({"days": ["sat"], "start": "05:00", "duration": "4h"}, utc(2026, 12, 12, 9, 0)),  # overlap
        ({"days": ["sat"], "start": "03:00", "duration": "1h"}, utc(2026, 12, 12, 6, 0)),  # inside
    ],
    ids=["adjacent", "overlapping", "contained"],
)
def test_touching_windows_are_one_window(second: dict[str, Any], end: datetime) -> None:
    merged = spec({"days": ["sat"], "start": "02:00", "duration": "4h"}, second)
    now = utc(2026, 12, 12, 5, 30)
    span = window_at(merged, now)
    assert span == Span(utc(2026, 12, 12, 2, 0), end)
    # Fits is measured against the end of the merged span, not of the first window.
    assert report(merged, now, expected=int((end - now).total_seconds())).fits
    assert not report(merged, now, expected=int((end - now).total_seconds()) + 1).fits
    following = next_window(merged, now)
    assert following is not None
    assert following.start == utc(2026, 12, 19, 2, 0)


def test_windows_that_never_close_have_no_next() -> None:
    always = spec({"start": "00:00", "duration": "1d"})
    span = window_at(always, WEDNESDAY)
    assert span is not None
    assert span.end - WEDNESDAY >= timedelta(days=7)
    assert next_window(always, WEDNESDAY) is None
    result = report(always, WEDNESDAY, expected=3 * 86400)
    assert result.open_now
    assert result.fits
    assert may_apply(result, now=WEDNESDAY).allowed


def test_a_whole_week_window_once_a_week_is_always_open() -> None:
    weekly = spec({"days": ["mon"], "start": "00:00", "duration": "7d"})
    assert window_at(weekly, WEDNESDAY) is not None
    assert next_window(weekly, WEDNESDAY) is None


# --- time zones and daylight saving -----------------------------------------------------


def test_utc_user_with_a_zone_that_changes_the_day() -> None:
    kolkata = spec({"days": ["sat"], "start": "02:00", "duration": "2h"}, tz="Asia/Kolkata")
    following = next_window(kolkata, WEDNESDAY)
    assert following == Span(utc(2026, 12, 11, 20, 30), utc(2026, 12, 11, 22, 30))
    assert local_text(following.start, "Asia/Kolkata") == "Sat 02:00 IST (Fri 20:30 UTC)"


def test_berlin_spring_forward_skipped_start_opens_at_the_end_of_the_gap() -> None:
    """2026-03-29: 02:00 CET jumps to 03:00 CEST; a 02:30 start opens at 03:00 CEST."""
    nightly = spec({"start": "02:30", "duration": "1h"}, tz="Europe/Berlin")
    saturday = utc(2026, 3, 28, 12, 0)
    following = next_window(nightly, saturday)
    assert following == Span(utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 2, 0))
    assert describe_start(following.start, "Europe/Berlin", saturday) == (
        "Sun 03:00 CEST (01:00 UTC), in 13 h"
    )
    # The days around it are ordinary: 02:30 CET before, 02:30 CEST after.
    assert window_at(nightly, utc(2026, 3, 28, 1, 30)) is not None
    assert next_window(nightly, utc(2026, 3, 29, 12, 0)) == Span(
        utc(2026, 3, 30, 0, 30), utc(2026, 3, 30, 1, 30)
    )
    # 02:00 itself is skipped too.
    at_two = spec({"start": "02:00", "duration": "1h"}, tz="Europe/Berlin")
    assert next_window(at_two, saturday) == Span(utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 2, 0))


def test_berlin_duration_is_elapsed_across_the_change() -> None:
    across = spec({"days": ["sun"], "start": "01:00", "duration": "3h"}, tz="Europe/Berlin")
    spring = next_window(across, utc(2026, 3, 28, 12, 0))
    assert spring == Span(utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 3, 0))
    assert local_text(spring.end, "Europe/Berlin") == "Sun 05:00 CEST (03:00 UTC)"
    autumn = next_window(across, utc(2026, 10, 24, 12, 0))
    assert autumn == Span(utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 2, 0))
    assert local_text(autumn.end, "Europe/Berlin") == "Sun 03:00 CET (02:00 UTC)"


def test_berlin_fall_back_repeated_start_opens_at_the_first_occurrence() -> None:
    """2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice."""
    nightly = spec({"start": "02:30", "duration": "1h"}, tz="Europe/Berlin")
    saturday = utc(2026, 10, 24, 12, 0)
    following = next_window(nightly, saturday)
    assert following == Span(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30))
    assert local_text(following.start, "Europe/Berlin") == "Sun 02:30 CEST (00:30 UTC)"
    assert local_text(following.end, "Europe/Berlin") == "Sun 02:30 CET (01:30 UTC)"
    # During the second 02:30 the window is still open (it is an hour of elapsed time).
    assert window_at(nightly, utc(2026, 10, 25, 1, 29)) == following
    assert window_at(nightly, utc(2026, 10, 25, 1, 30)) is None


@pytest.mark.parametrize(
    ("now", "start", "text"),
    [
        (utc(2026, 3, 7, 12, 0), utc(2026, 3, 8, 7, 0), "Sun 03:00 EDT (07:00 UTC)"),  # skipped
        (utc(2026, 10, 31, 12, 0), utc(2026, 11, 1, 7, 30), "Sun 02:30 EST (07:30 UTC)"),
        (utc(2026, 12, 12, 12, 0), utc(2026, 12, 13, 7, 30), "Sun 02:30 EST (07:30 UTC)"),
    ],
    ids=["spring-forward", "fall-back-after", "winter"],
)
def test_new_york(now: datetime, start: datetime, text: str) -> None:
    nightly = spec({"start": "02:30", "duration": "30m"}, tz="America/New_York")
    following = next_window(nightly, now)
    assert following is not None
    assert following.start == start
    assert local_text(following.start, "America/New_York") == text


def test_new_york_repeated_hour_uses_the_first() -> None:
    """2026-11-01: 01:30 occurs at 05:30 UTC (EDT) and 06:30 UTC (EST); the first counts."""
    early = spec({"start": "01:30", "duration": "30m"}, tz="America/New_York")
    following = next_window(early, utc(2026, 10, 31, 12, 0))
    assert following == Span(utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 0))
    assert local_text(following.start, "America/New_York") == "Sun 01:30 EDT (05:30 UTC)"


def test_now_in_any_zone_is_the_same_instant() -> None:
    in_berlin = WEDNESDAY.astimezone(BERLIN)
    in_new_york = WEDNESDAY.astimezone(NEW_YORK)
    assert report(WEEKEND, in_berlin) == report(WEEKEND, in_new_york) == report(WEEKEND, WEDNESDAY)


# --- the decision ---------------------------------------------------------------------------


def test_outside_allow_is_never_deferred_but_still_reports() -> None:
    lenient = WEEKEND.model_copy(update={"outside": "allow"})
    closed = report(lenient, WEDNESDAY)
    assert not closed.open_now
    assert closed.outside == "allow"
    decision = may_apply(closed, now=WEDNESDAY)
    assert decision.allowed
    assert decision.outcome == "allowed_outside"
    assert "the next opens Sat 02:00 CET (01:00 UTC), in 2 days 15 h" in decision.reason
    late = utc(2026, 12, 12, 4, 55)
    overrun = may_apply(report(lenient, late, expected=3600), now=late)
    assert overrun.allowed
    assert overrun.outcome == "allowed_outside"
    assert overrun.reason.startswith("may overrun the window: the plan may take up to 1 h")


def test_not_needed_applies_any_time_but_reports_the_next_window() -> None:
    result = report(WEEKEND, WEDNESDAY, needed=False)
    assert not result.needed
    assert result.next_start == "2026-12-12T01:00:00+00:00"
    decision = may_apply(result, now=WEDNESDAY)
    assert decision.allowed
    assert decision.outcome == "not_needed"


def test_no_maintenance_key() -> None:
    assert window_report(None, needed=True, now=WEDNESDAY, expected_seconds=60) is None
    decision = may_apply(None, now=WEDNESDAY)
    assert decision.allowed
    assert decision.outcome == "no_windows"


def test_report_json_is_the_plan_shape() -> None:
    now = WEDNESDAY.replace(microsecond=123456)
    dumped = report(WEEKEND, now).model_dump(mode="json")
    assert dumped == {
        "needed": True,
        "open_now": False,
        "next_start": "2026-12-12T01:00:00+00:00",
        "next_end": "2026-12-12T05:00:00+00:00",
        "timezone": "Europe/Berlin",
        "outside": "refuse",
        "expected_seconds": 600,
        "fits": True,
        "applies_now": False,
        "says": "deferred: outside the maintenance windows; the next opens Sat 02:00 CET "
        "(01:00 UTC), in 2 days 14 h",  # from 10:00:00.123456 UTC: 14 h 59 min, rounded down
    }
    assert WindowReport.model_validate(dumped) == report(WEEKEND, now)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        window_at(WEEKEND, datetime(2026, 12, 9, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_window(WEEKEND, datetime(2026, 12, 9, 10, 0))
    with pytest.raises(ValueError, match="must not be negative"):
        window_report(WEEKEND, needed=True, now=WEDNESDAY, expected_seconds=-1)


# --- words ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=3), "in 3 days"),
        (timedelta(days=1, minutes=5), "in 1 day"),
        (timedelta(days=3, hours=4, minutes=59), "in 3 days 4 h"),
        (timedelta(hours=5, minutes=20, seconds=59), "in 5 h 20 min"),
        (timedelta(hours=5), "in 5 h"),
        (timedelta(minutes=12), "in 12 min"),
        (timedelta(seconds=59), "now"),
        (timedelta(0), "now"),
        (-timedelta(minutes=12), "12 min ago"),
    ],
)
def test_relative(delta: timedelta, text: str) -> None:
    assert relative(WEDNESDAY + delta, WEDNESDAY) == text


def test_iso_utc_is_whole_seconds_in_utc() -> None:
    moment = datetime(2026, 7, 1, 12, 0, 5, 999999, tzinfo=BERLIN)
    assert iso_utc(moment) == "2026-07-01T10:00:05+00:00"


# --- property: every answer agrees with its neighbours -----------------------------------


ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")
DST_CHANGES = (
    ("Europe/Berlin", utc(2026, 3, 29, 1, 0)),  # forward 02:00 -> 03:00
    ("Europe/Berlin", utc(2026, 10, 25, 1, 0)),  # back 03:00 -> 02:00
    ("America/New_York", utc(2026, 3, 8, 7, 0)),  # forward 02:00 -> 03:00
    ("America/New_York", utc(2026, 11, 1, 6, 0)),  # back 02:00 -> 01:00
    ("Australia/Lord_Howe", utc(2026, 4, 4, 15, 0)),  # back half an hour, 02:00 -> 01:30
    ("Australia/Lord_Howe", utc(2026, 10, 3, 15, 30)),  # forward half an hour, 02:00 -> 02:30
)

windows = st.fixed_dictionaries(
    {
        "start": st.builds(
            "{:02d}:{:02d}".format,
            st.one_of(st.just(2), st.integers(0, 23)),  # 02:xx is where clocks change
            st.sampled_from([0, 15, 30, 59]),
        ),
        "duration": st.integers(60, 7 * 86400),
    },
    optional={"days": st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True)},
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[MaintenanceSpec, datetime]:
    """Any zone at any time, or a zone within nine days of one of its clock changes."""
    if draw(st.booleans()):
        zone, change = draw(st.sampled_from(DST_CHANGES))
        now = change + timedelta(minutes=draw(st.integers(-9 * 1440, 9 * 1440)))
    else:
        zone = draw(st.sampled_from(ZONES))
        now = draw(
            st.datetimes(
                min_value=datetime(2026, 1, 1),
                max_value=datetime(2027, 12, 31),
                timezones=st.just(UTC),
            )
        )
    return spec(*draw(st.lists(windows, min_size=1, max_size=3)), tz=zone), now


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_open_and_next_agree(case: tuple[MaintenanceSpec, datetime]) -> None:
    maintenance, now = case
    tz = ZoneInfo(maintenance.timezone) if maintenance.timezone != "UTC" else UTC
    week = [now.astimezone(tz).date() + timedelta(days=n) for n in range(-1, 9)]
    offsets = {datetime.combine(day, datetime.min.time(), tzinfo=tz).utcoffset() for day in week}
    event("DST change within the searched days" if len(offsets) > 1 else "no DST change near")
    current = window_at(maintenance, now)
    following = next_window(maintenance, now)
    if current is None:
        event("closed")
        assert following is not None
        assert now < following.start <= now + timedelta(days=8)
        assert window_at(maintenance, following.start) == following
        assert window_at(maintenance, following.start - timedelta(seconds=1)) is None
        # It opens at a listed start on a listed day, or at the end of a DST gap.
        local = following.start.astimezone(tz)
        day = WEEKDAYS[local.weekday()]
        on_day = [w for w in maintenance.windows if w.days is None or day in w.days]
        assert on_day
        if all(w.start != f"{local:%H:%M}" for w in on_day) or local.second:
            event("start skipped by a DST gap")
            before = (following.start - timedelta(seconds=1)).astimezone(tz)
            assert before.utcoffset() != local.utcoffset()
    else:
        event("open")
        assert current.start <= now < current.end
        if following is None:
            event("never closes")
            assert current.end - now >= timedelta(days=7)
        else:
            assert following.start > current.end  # merged spans leave a gap between them
            assert window_at(maintenance, current.end) is None
    result = report(maintenance, now)
    assert result.open_now is (current is not None)
    decision = may_apply(result, now=now)
    assert decision.allowed is (current is not None and result.fits)


def test_status_says_where_the_windows_stand() -> None:
    from reconciler.plan.window import window_text

    assert window_text(WEEKEND, WEDNESDAY) == (
        "next opens Sat 02:00 CET (01:00 UTC), in 2 days 15 h"
    )
    saturday = datetime(2026, 12, 12, 2, 30, tzinfo=UTC)  # 03:30 CET, open until 06:00 CET
    assert (
        window_text(WEEKEND, saturday)
        == "open now, closes Sat 06:00 CET (05:00 UTC), in 2 h 30 min"
    )
