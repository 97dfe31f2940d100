"""The tests run against an installed cms-reconciler (`make test-wheel`), not the checkout.

``RECONCILE_TEST_INSTALLED=1`` says they must: ``problem`` names what would have them test the
checkout after all, and tests/conftest.py fails the session on it. Run as ``python -m
tests.support.installed`` (from the checkout, as `tests/workflows/test_release.py` does) it
prints the file ``reconciler`` was imported from.

No module is imported from the package at this module's import: the conftest imports it
before anything has chosen which ``reconciler`` the session gets.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
VARIABLE = "RECONCILE_TEST_INSTALLED"
DISTRIBUTION = "cms-reconciler"


def requested() -> bool:
    return os.environ.get(VARIABLE) == "1"


def from_checkout(path: str | os.PathLike[str], package: str = "reconciler") -> bool:
    """Whether ``path`` is in the checkout's own ``package`` folder (a venv made inside the
    checkout, as `make test-wheel` makes .venv-wheel, is not)."""
    return Path(path).resolve().is_relative_to(CHECKOUT / package)


def problem() -> str | None:
    """Why this process, or one it starts, could import the checkout's ``reconciler`` rather
    than the installed one; None when it cannot."""
    import reconciler

    hint = "run the tests against a wheel with `make test-wheel WHEEL=...`"
    if from_checkout(reconciler.__file__):
        return (
            f"{VARIABLE}=1, but reconciler was imported from the checkout "
            f"({reconciler.__file__}), not from an installed wheel: {hint}"
        )
    # An installed copy, but is it the distribution's? (not, say, a stray folder on the path)
    try:
        recorded = importlib.metadata.distribution(DISTRIBUTION).locate_file(
            "reconciler/__init__.py"
        )
    except importlib.metadata.PackageNotFoundError:
        return f"{VARIABLE}=1, but {DISTRIBUTION} is not installed: {hint}"
    if Path(str(recorded)).resolve() != Path(reconciler.__file__).resolve():
        return (
            f"{VARIABLE}=1, but reconciler was imported from {reconciler.__file__}, not from "
            f"the installed {DISTRIBUTION} ({recorded}): {hint}"
        )
    # Inherited by every process the tests start: without it, `python -m reconciler` (or -c)
    # started in the checkout would put the checkout first on its path.
    if not os.environ.get("PYTHONSAFEPATH"):
        return f"{VARIABLE}=1, but PYTHONSAFEPATH is not set: {hint}"
    return None


def main() -> None:
    import reconciler

    print(reconciler.__file__)


if __name__ == "__main__":
    main()
