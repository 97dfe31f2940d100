"""`make demo`: the lab end to end (here on free addresses and with fast operations)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from reconciler.demo import run_demo
from tests.e2e.conftest import LAB_ENV
from tests.support.lab import FAST

pytestmark = pytest.mark.e2e


def test_the_demo_rehearses_applies_and_converges(lab_repo: Path) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=False, color_system=None)
    assert run_demo(lab_repo, LAB_ENV, console, durations=FAST) == 0, buffer.getvalue()
    shown = buffer.getvalue()
    for section in ("1. the lab", "2. reconcile --plan --rehearse", "3. reconcile --apply"):
        assert section in shown
    assert "Rehearsed on a twin: converges in 27 steps" in shown
    assert "lab: healthy" in shown
    assert shown.rstrip().endswith("Demo complete: the lab is converged.")
    assert "Traceback" not in shown
