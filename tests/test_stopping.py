"""StopSignals: a stop is recorded wherever it lands, and wakes a waiting main thread."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from civickit.errors import CivicKitError
from civickit.stopping import Stopped, StopSignals


class _SignalsItselfWhenCollected:
    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self) -> None:
        # Exceptions raised here are printed and dropped: a handler that raised
        # would lose the stop. Recording it cannot be lost.
        os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_landing_inside_a_finaliser_is_recorded(signum, recwarn):
    with StopSignals() as stop:
        _SignalsItselfWhenCollected(signum)
        assert stop.requested
        assert stop.signum == signum
    assert not [w for w in recwarn if "Exception ignored" in str(w.message)]


def test_check_raises_stopped_only_after_a_stop():
    with StopSignals() as stop:
        stop.check()  # nothing yet
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(Stopped, match="SIGTERM") as caught:
            stop.check()
    assert caught.value.signum == signal.SIGTERM
    assert isinstance(caught.value, CivicKitError)


def test_wait_times_out_without_a_stop():
    with StopSignals() as stop:
        assert stop.wait(0.05) is False


def test_wait_returns_when_a_signal_arrives_from_another_thread():
    with StopSignals() as stop:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        started = time.monotonic()
        assert stop.wait(30) is True
        assert time.monotonic() - started < 25  # woke on the signal, not the timeout


def test_the_first_stop_is_kept_and_a_second_changes_nothing():
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signum == signal.SIGINT


def test_previous_handlers_and_wakeup_fd_are_restored():
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    with StopSignals():
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
    assert {s: signal.getsignal(s) for s in before} == before
    assert signal.set_wakeup_fd(-1) == -1  # nothing of ours left installed
