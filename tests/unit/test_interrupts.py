"""Deferred Ctrl-C and SIGTERM during apply (reconciler/interrupts.py), with real signals sent
to this process."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest

from reconciler.interrupts import Interrupts


@pytest.fixture(autouse=True)
def _handlers_kept() -> Iterator[None]:
    assert threading.current_thread() is threading.main_thread()  # where signals arrive
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_first_signal_asks_for_a_stop_and_the_second_gets_the_default_action(
    signum: int,
) -> None:
    said: list[str] = []
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # as the CLI sets it
    with Interrupts(said.append) as interrupts:
        signal.raise_signal(signum)
        assert interrupts.cancel.is_set()
        assert said == [
            f"{signal.Signals(signum).name} received: stopping at the next step or poll. "
            "Send it again to stop at once; the cluster then stays locked, and the next "
            "apply says how to unlock it."
        ]
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
        # The next one of either ends the process (not sent here: it would end pytest).
        assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.default_int_handler


def test_a_failing_message_does_not_escape_the_handler() -> None:
    def broken(text: str) -> None:
        raise BrokenPipeError

    with Interrupts(broken) as interrupts:
        signal.raise_signal(signal.SIGINT)
    assert interrupts.cancel.is_set()


def test_nothing_asked_nothing_stops() -> None:
    with Interrupts() as interrupts:
        interrupts.check()
    assert not interrupts.cancel.is_set()


def test_a_question_to_a_person_is_interrupted_at_once_and_deferral_resumes() -> None:
    with Interrupts() as interrupts:
        with pytest.raises(KeyboardInterrupt), interrupts.immediate():
            signal.raise_signal(signal.SIGINT)
        assert not interrupts.cancel.is_set()
        signal.raise_signal(signal.SIGINT)
        assert interrupts.cancel.is_set()


def test_an_ignored_signal_stays_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with Interrupts() as interrupts:
        signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert not interrupts.cancel.is_set()


def test_outside_the_main_thread_nothing_is_installed() -> None:
    handler = signal.getsignal(signal.SIGINT)
    seen: list[object] = []

    def elsewhere() -> None:
        with Interrupts():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert seen == [handler]
