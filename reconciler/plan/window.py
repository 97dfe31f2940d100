"""Maintenance windows (issue 26): is a window open, when is the next, may the plan start?

Pure: no I/O and no clock. ``now`` is always a parameter (an aware datetime), so plan, apply,
the PR comment and ``status`` agree on one instant and tests run on a fixed clock. The only
outside data read is the time zone database, through ``zoneinfo``.

Semantics (docs/design.md, "Maintenance windows"):

* A window belongs to the day it starts on, in ``maintenance.timezone``: ``days: [sat]``,
  ``start: "23:00"``, ``duration: 4h`` is open on Sunday at 01:30.
* ``duration`` is elapsed time: the end is the start plus the duration, whatever the wall
  clock does in between.
* A start time that a daylight-saving change skips that day (02:30 on spring-forward day in
  Europe/Berlin) starts at the first instant after the gap (03:00 local); a start time that
  occurs twice (fall back) starts at its first occurrence (``fold=0``).
* Overlapping or adjacent occurrences form one window: ``window_at`` returns the merged span,
  so "does the plan fit before the window closes" uses the end of the whole span.
* Occurrences are generated for a bounded range of days around ``now`` (windows recur weekly
  and last at most 7 days), so nothing loops forever; a span that never closes (windows that
  cover the whole week) is cut at the end of that range, at least a week after ``now``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from reconciler.desired.models import WEEKDAYS, MaintenanceSpec

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYS_BEFORE = 8
"""Local days before today whose windows may still be open (a window lasts at most 7 days)."""
_DAYS_AFTER = 16
"""Local days after today that are searched: the next window starts within 8 days; the rest
lets a span that runs on past it be merged."""

Outcome = Literal["ok", "not_needed", "no_windows", "allowed_outside", "deferred", "does_not_fit"]
"""``ok``: inside a window and it fits; ``not_needed``: the plan takes no serving node out of
service; ``no_windows``: no ``maintenance`` key; ``allowed_outside``: closed or too short,
but ``outside: allow``; ``deferred`` / ``does_not_fit``: refused, exit 3."""


class Span(NamedTuple):
    """An open window, aware UTC datetimes; ``end`` is exclusive."""

    start: datetime
    end: datetime


class WindowReport(BaseModel):
    """What a plan says about maintenance windows (plan JSON ``clusters[].window``).

    Computed once, at planning time, from the cluster file and ``now``; ``may_apply`` turns
    it into the decision, and the renderers into words.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    needed: bool
    """The plan takes a serving node out of service (the caller decides from the plan)."""
    open_now: bool
    next_start: str
    """ISO 8601 UTC, whole seconds: the open window's start if open now, else the next one's."""
    next_end: str
    """When that window closes (the end of the merged span)."""
    timezone: str
    outside: Literal["refuse", "allow"]
    expected_seconds: int
    """The plan's expected upper bound of running time."""
    fits: bool
    """The plan fits before the open window closes (``now + expected <= next_end``); when
    closed now, whether it fits into the whole next window."""
    applies_now: bool = True
    """``may_apply`` at the planning instant: False when an apply now would be deferred."""
    says: str = ""
    """That decision in one sentence, for people (the plan's text, the PR comment, CI)."""


class WindowDecision(BaseModel):
    """Whether apply may start now, and the sentence that says why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed: bool
    outcome: Outcome
    reason: str

    @property
    def deferred(self) -> bool:
        """Apply changes nothing and exits 3 (outside a window, or it does not fit)."""
        return not self.allowed


def zone(name: str) -> tzinfo:
    """The tzinfo of ``maintenance.timezone``; UTC needs no time zone database."""
    return UTC if name == "UTC" else ZoneInfo(name)


def window_at(spec: MaintenanceSpec, now: datetime) -> Span | None:
    """The window open at ``now`` (merged with overlapping and adjacent ones), or None."""
    _check_aware(now)
    for span in _spans(spec, now):
        if span.start <= now < span.end:
            return span
    return None


def next_window(spec: MaintenanceSpec, now: datetime) -> Span | None:
    """The next window that opens strictly after ``now``.

    None only when the windows leave no gap (an open span covers the whole search range);
    it is never None when ``window_at`` is None.
    """
    _check_aware(now)
    for span in _spans(spec, now):
        if span.start > now:
            return span
    return None


def window_report(
    spec: MaintenanceSpec | None, *, needed: bool, now: datetime, expected_seconds: int
) -> WindowReport | None:
    """The report of ``clusters[].window``; None when the cluster has no ``maintenance`` key."""
    _check_aware(now)
    if expected_seconds < 0:
        raise ValueError(f"expected_seconds must not be negative, got {expected_seconds}")
    if spec is None:
        return None
    current = window_at(spec, now)
    span = current or next_window(spec, now)
    if span is None:  # pragma: no cover - a closed window always has a next one
        raise AssertionError("no window open and none ahead")
    expected = timedelta(seconds=expected_seconds)
    fits = now + expected <= span.end if current else span.start + expected <= span.end
    report = WindowReport(
        needed=needed,
        open_now=current is not None,
        next_start=iso_utc(span.start),
        next_end=iso_utc(span.end),
        timezone=spec.timezone,
        outside=spec.outside,
        expected_seconds=expected_seconds,
        fits=fits,
    )
    decision = may_apply(report, now=now)
    return report.model_copy(update={"applies_now": decision.allowed, "says": decision.reason})


def may_apply(report: WindowReport | None, *, now: datetime) -> WindowDecision:
    """May apply start at ``now``? Refused (deferred) outside a window with ``outside:
    refuse``, and inside one when the plan may not finish before it closes. A run already
    started is never cut off; this is asked once, before the first step.

    ``report`` must be computed for this same ``now``: apply runs later than the plan it
    applies, so it calls ``window_report`` again at its own clock; the plan's copy is what
    reviewers saw, not the decision.
    """
    _check_aware(now)
    if report is None:
        return WindowDecision(
            allowed=True, outcome="no_windows", reason="no maintenance windows: applies any time"
        )
    start = datetime.fromisoformat(report.next_start)
    end = datetime.fromisoformat(report.next_end)
    tz = report.timezone
    if not report.needed:
        return WindowDecision(
            allowed=True,
            outcome="not_needed",
            reason="the plan takes no serving node out of service: it needs no maintenance window",
        )
    up_to = f"the plan may take up to {_amount(timedelta(seconds=report.expected_seconds))}"
    if report.open_now and report.fits:
        return WindowDecision(
            allowed=True,
            outcome="ok",
            reason=f"inside the maintenance window, which closes {local_text(end, tz)}",
        )
    if report.open_now:
        closes = f"the window closes {local_text(end, tz)}, {relative(end, now)}"
        if report.outside == "allow":
            return WindowDecision(
                allowed=True,
                outcome="allowed_outside",
                reason=f"may overrun the window: {up_to} and {closes} (outside: allow)",
            )
        return WindowDecision(
            allowed=False,
            outcome="does_not_fit",
            reason=f"does not fit: {up_to} and {closes}",
        )
    opens = f"the next opens {describe_start(start, tz, now)}"
    if not report.fits:
        opens += f"; {up_to}, longer than that window ({_amount(end - start)})"
    if report.outside == "allow":
        return WindowDecision(
            allowed=True,
            outcome="allowed_outside",
            reason=f"outside the maintenance windows, applied anyway (outside: allow); {opens}",
        )
    return WindowDecision(
        allowed=False,
        outcome="deferred",
        reason=f"deferred: outside the maintenance windows; {opens}",
    )


def window_text(spec: MaintenanceSpec, now: datetime) -> str:
    """``open now, closes Sat 06:00 CET (05:00 UTC), in 3 h`` or ``next opens Sat 02:00
    CET (01:00 UTC), in 3 days``: where the windows stand, for ``status``."""
    current = window_at(spec, now)
    if current is not None:
        return f"open now, closes {describe_start(current.end, spec.timezone, now)}"
    upcoming = next_window(spec, now)
    if upcoming is None:  # pragma: no cover - a closed window always has a next one
        raise AssertionError("no window open and none ahead")
    return f"next opens {describe_start(upcoming.start, spec.timezone, now)}"


def describe_start(start: datetime, tz: str, now: datetime) -> str:
    """``Sat 02:00 CET (01:00 UTC), in 3 days``: a window's start for people."""
    return f"{local_text(start, tz)}, {relative(start, now)}"


def local_text(moment: datetime, tz: str) -> str:
    """``Sat 02:00 CET (01:00 UTC)``; ``Sat 02:00 IST (Fri 20:30 UTC)`` when the UTC day
    differs; just ``Sat 01:00 UTC`` for a UTC cluster."""
    _check_aware(moment)
    utc = moment.astimezone(UTC)
    if tz == "UTC":
        return _clock(utc, "UTC")
    local = moment.astimezone(zone(tz))
    utc_day = "" if utc.weekday() == local.weekday() else f"{_DAY_NAMES[utc.weekday()]} "
    return f"{_clock(local, local.tzname() or tz)} ({utc_day}{utc:%H:%M} UTC)"


def relative(moment: datetime, now: datetime) -> str:
    """``in 3 days 4 h``, ``in 5 h 20 min``, ``in 12 min``, ``now``, ``12 min ago``.

    Two largest units, rounded down to the minute; under a minute is ``now``.
    """
    _check_aware(moment)
    _check_aware(now)
    delta = moment - now
    if abs(delta) < timedelta(minutes=1):
        return "now"
    amount = _amount(abs(delta))
    return f"in {amount}" if delta > timedelta(0) else f"{amount} ago"


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC, whole seconds (``2026-03-28T01:00:00+00:00``), as plan JSON has it."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat(timespec="seconds")


# --- internals ---------------------------------------------------------------------------


def _amount(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day" + ("s" if days != 1 else ""))
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return " ".join(parts[:2]) if parts else "less than a minute"


def _clock(moment: datetime, abbreviation: str) -> str:
    return f"{_DAY_NAMES[moment.weekday()]} {moment:%H:%M} {abbreviation}"


def _check_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware (use datetime.now(UTC))")


def _spans(spec: MaintenanceSpec, now: datetime) -> list[Span]:
    """Every occurrence near ``now``, merged into spans, sorted by start."""
    tz = zone(spec.timezone)
    today = now.astimezone(tz).date()
    occurrences: list[Span] = []
    for offset in range(-_DAYS_BEFORE, _DAYS_AFTER + 1):
        day = today + timedelta(days=offset)
        for window in spec.windows:
            if window.days is not None and WEEKDAYS[day.weekday()] not in window.days:
                continue
            start = _instant(day, _parse_start(window.start), tz)
            occurrences.append(Span(start, start + window.duration))
    occurrences.sort()
    spans: list[Span] = []
    for occurrence in occurrences:
        if spans and occurrence.start <= spans[-1].end:
            last = spans[-1]
            spans[-1] = Span(last.start, max(last.end, occurrence.end))
        else:
            spans.append(occurrence)
    return spans


def _parse_start(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _instant(day: date, wall: time, tz: tzinfo) -> datetime:
    """The UTC instant of local ``day`` at ``wall``: the first occurrence of a repeated time,
    and the end of the gap for a skipped one."""
    local = datetime.combine(day, wall, tzinfo=tz)  # fold=0: the earlier of a repeated time
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # Skipped by a forward change: fold=1 reads the wall time with the offset after the
    # change, which lands before the gap; fold=0 with the offset before, after the gap. The
    # change itself (the gap's end) lies between; find it to the second.
    before, after = sorted((local.replace(fold=1).astimezone(UTC), instant))
    offset_after = after.astimezone(tz).utcoffset()
    low, high = 0, int((after - before).total_seconds())
    while low < high:  # the first second at which the new offset applies
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(tz).utcoffset() == offset_after:
            high = middle
        else:
            low = middle + 1
    return before + timedelta(seconds=low)
