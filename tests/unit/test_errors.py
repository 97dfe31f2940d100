"""One exception root: every error the reconciler raises is a ``ReconcileError`` from
``reconciler.errors``, so the CLI reports it in one paragraph instead of a traceback."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import reconciler
from reconciler import errors
from reconciler.errors import ReconcileError

# Not errors a user sees: the simulated device's own control flow (a session it ends), and
# private signals caught in the module that raises them.
EXEMPT = {
    "reconciler.simulator.commands.DisconnectRequested",
    "reconciler.simulator.backend.Disconnect",
    "reconciler.mmp.known_hosts._LineError",
    "reconciler.mmp.session._ShellClosed",
    "reconciler.init_requirements._PipFailed",
}


def _exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(reconciler.__path__, "reconciler."):
        if module_info.name.endswith("__main__"):  # runs the CLI when imported
            continue
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("reconciler"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_exception_is_defined_in_errors_under_the_root() -> None:
    exceptions = _exceptions()
    assert "reconciler.errors.ApplyFailed" in exceptions
    stray = sorted(
        name
        for name in exceptions
        if name not in EXEMPT and not name.startswith("reconciler.errors.")
    )
    assert stray == []
    outside = sorted(
        name
        for name, cls in exceptions.items()
        if name not in EXEMPT and not issubclass(cls, ReconcileError)
    )
    assert outside == []
    assert all(name in exceptions for name in EXEMPT), "an exemption outlived its class"
    assert inspect.getmodule(errors.StalePlan) is errors
