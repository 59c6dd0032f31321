"""Stop a long-running process on SIGTERM or Ctrl-C without ever losing the stop.

A Python signal handler runs wherever the main thread happens to be, including
inside an import's weakref callback or an object's ``__del__``. An exception
raised there is printed as "Exception ignored in: ..." and dropped, so a
handler that raises (``sys.exit``, ``KeyboardInterrupt``) can lose the stop.
The handlers here only record which signal came and wake the main thread
through :func:`signal.set_wakeup_fd`; the main thread looks at
:attr:`StopSignals.requested` between its steps and sleeps in
:meth:`StopSignals.wait`, which returns as soon as a stop arrives.

    with StopSignals() as stop:
        scheduler.start()         # a BackgroundScheduler: jobs run on their own threads
        stop.wait()               # until SIGTERM or Ctrl-C
        scheduler.shutdown()
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Iterable
from types import FrameType, TracebackType
from typing import Any

from .errors import CivicKitError

__all__ = ["StopSignals", "Stopped"]


class Stopped(CivicKitError):
    """A stop (SIGTERM, Ctrl-C) was requested; raised by :meth:`StopSignals.check`."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


class StopSignals:
    """Record SIGTERM and SIGINT (or ``signals``) instead of acting on them at once.

    Use it as a context manager in the main thread: it installs the handlers
    on entry and puts the previous ones back on exit. A second signal while
    the process is already stopping is recorded too, and changes nothing.
    """

    def __init__(self, signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT)) -> None:
        self.signals = tuple(signals)
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        self._previous_fd = -1
        self._read_fd = self._write_fd = -1

    @property
    def requested(self) -> bool:
        """Whether a stop has arrived."""
        return self.signum is not None

    def check(self) -> None:
        """Raise :class:`Stopped` if a stop has arrived: call it between steps."""
        if self.signum is not None:
            raise Stopped(self.signum)

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until a stop arrives or ``timeout`` seconds pass; return :attr:`requested`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.signum is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            # the C-level handler writes a byte to the wake-up pipe, so select
            # returns at once even if the signal landed just before it began
            readable, _, _ = select.select([self._read_fd], [], [], remaining)
            if readable:
                self._drain()
        return self.requested

    def _record(self, signum: int, frame: FrameType | None) -> None:
        # Only record: nothing here may raise (see the module docstring).
        if self.signum is None:
            self.signum = signum

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read_fd, 512):
                pass

    def __enter__(self) -> StopSignals:
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._previous_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._record)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._read_fd)
        os.close(self._write_fd)
        self._read_fd = self._write_fd = -1
