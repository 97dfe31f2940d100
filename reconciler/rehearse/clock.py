"""Virtual time for a rehearsal: the device's work is modelled, never waited for.

One ``VirtualTime`` drives everything that would wait in a real apply: the executor's polls
(its ``Clock``), the MMP shell's quiet periods and the twin's device clock. Sleeping moves
the time forward at once, so a 27-step re-form rehearses in seconds and the time it moved is
the modelled duration of the device's work.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from reconciler.apply.waits import Clock
from reconciler.simulator.state import SimClock

RESOLUTION = 1e-6  # seconds: the smallest step of virtual time


class TwinClock(SimClock):
    """The twin's device clock: it starts at the live read and moves only when told."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._start = start
        self._moved = 0.0
        self._moving = threading.Lock()

    def now(self) -> datetime:
        with self._moving:
            return self._start + timedelta(seconds=self._moved)

    def advance(self, seconds: float) -> None:
        with self._moving:
            self._moved += seconds

    @property
    def elapsed(self) -> float:
        """Seconds moved since the live read."""
        with self._moving:
            return self._moved


class VirtualTime:
    """Seconds on the twin's clock, as the executor and the shell read time."""

    def __init__(self, device: TwinClock) -> None:
        self.device = device

    def now(self) -> float:
        return self.device.elapsed

    def sleep(self, seconds: float) -> None:
        # At least a microsecond: a wait for "the rest" of a period can be a few ulps, which
        # added to minutes of virtual time would not move it, and the waiter would spin.
        self.device.advance(max(seconds, RESOLUTION))

    def clock(self) -> Clock:
        """The executor's ``Clock``: its waits move the twin's time instead of sleeping."""
        return Clock(now=self.now, sleep=self.sleep)
