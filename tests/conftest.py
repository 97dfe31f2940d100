"""Plugins every test run loads (the reliability recorder, and pytester for testing it), a
working Ctrl-C for the tests that send one, and, under `make test-wheel`, the proof that the
package under test is the installed wheel."""

import signal

import pytest

from tests.support import installed

pytest_plugins = ["tests.support.reliability", "pytester"]


def pytest_configure(config: pytest.Config) -> None:
    """Tests send SIGINT to the runs they start, and to themselves. A shell's background job
    (``make test &``, some CI runners) starts with SIGINT ignored, which every process after
    it inherits, and Python then keeps it ignored: restore Python's own handler here, before
    the xdist workers are started, so those tests test the CLI rather than the shell."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # `make test-wheel`: the installed wheel is tested, or nothing is (tests/support/installed.py).
    if installed.requested() and (problem := installed.problem()) is not None:
        raise pytest.UsageError(problem)
