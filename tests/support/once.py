"""Work done once per test run and shared by every pytest-xdist worker: a module-scoped
fixture would otherwise be made again by each worker that runs one of the module's tests
(a wheel build, a venv: tens of seconds each on 2 cores)."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """A folder ``make`` fills once per test run, shared by the pytest-xdist workers (each
    would otherwise build its own copy of a module-scoped fixture)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = factory.mktemp(name)
        make(folder)
        return folder
    shared = factory.getbasetemp().parent  # this run's, common to its workers
    folder = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if not (folder / ".done").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed midway
            folder.mkdir()
            make(folder)
            (folder / ".done").touch()
    return folder
