"""The import framework both example apps share: the report, progress, failure and the attempt.

An import reads published files into staging tables (:mod:`.staging`), checks
what it read, and only then swaps the new data in. Whatever happens, it ends
in one of two ways:

* it returns an :class:`ImportReport` (``status`` ``ok``, or ``unchanged``
  when there was nothing new), or
* it raises :class:`ImportFailed`, whose ``report`` says why, and nothing was
  changed: the previous data is still serving.

Rows that do not match the published layout are skipped and counted; the
first :data:`LISTED_SKIPS` are kept with their file and line for the report,
and the rest are stated as a count. :mod:`.console` prints reports.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from civickit.errors import CivicKitError, DataFormatError

log = logging.getLogger(__name__)

#: Skipped rows kept, with file and line, in a report; any more are only counted.
LISTED_SKIPS = 50

#: ``progress(label, done, total)``: ``done`` and ``total`` in one unit (bytes
#: read, rows loaded); ``total`` is None when it is not known in advance.
Progress = Callable[[str, int, int | None], None]


def no_progress(label: str, done: int, total: int | None) -> None:
    """A :data:`Progress` that shows nothing."""


def plural(count: int, word: str, words: str | None = None) -> str:
    """``"1 row"``, ``"2,000 rows"``."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


@dataclass(kw_only=True)
class ImportReport:
    """What an import did, or why it did nothing. Each app subclasses it to add its counts."""

    source: str  # what was imported, in words; it starts every printed line
    status: str = "failed"  # ok | failed | unchanged
    message: str = ""  # one sentence: what was loaded, or why nothing was
    files: list[str] = field(default_factory=list)
    skipped: list[DataFormatError] = field(default_factory=list)  # the first LISTED_SKIPS
    skipped_count: int = 0  # every skipped row, listed or not
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    is_sample: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "unchanged")

    def skip(self, error: DataFormatError) -> None:
        """Count a row that does not match its layout (an ``on_error`` for the readers)."""
        self.skipped_count += 1
        if len(self.skipped) < LISTED_SKIPS:
            self.skipped.append(error)

    @property
    def unlisted_skips(self) -> int:
        """Skipped rows counted but not listed."""
        return self.skipped_count - len(self.skipped)

    def skipped_lines(self) -> list[str]:
        """``"dm_jobs.csv, line 7: ..."`` for each listed skipped row."""
        return [
            f"{Path(e.source).name}, line {e.line}: {e.message}"
            if e.line
            else f"{Path(e.source).name}: {e.message}"
            for e in self.skipped
        ]

    def figures(self) -> dict[str, Any]:
        """The app's own counts, for :meth:`to_dict` (subclasses add theirs)."""
        return {}

    def summary(self) -> str | None:
        """A second printed line of figures after a successful import, if the app has one."""
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "message": self.message,
            **self.figures(),
            "files": list(self.files),
            "skipped_count": self.skipped_count,
            "skipped": [
                {"file": Path(e.source).name, "line": e.line, "message": e.message}
                for e in self.skipped
            ],
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 2),
            "is_sample": self.is_sample,
        }


class ImportFailed(CivicKitError):
    """The import stopped before its swap: nothing was changed. ``report`` says why."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        super().__init__(report.message)

    def __str__(self) -> str:
        reason = self.report.message.rstrip(".")
        return (
            f"{self.report.source}: {reason}. "
            "Nothing was changed: the previous data is still serving."
        )


class Refused(Exception):
    """Raise inside :func:`attempt` to refuse the data; the message is the reason, as it is."""


R = TypeVar("R", bound=ImportReport)


@contextlib.contextmanager
def attempt(report: R, *, record_failure: Callable[[R], None] | None = None) -> Iterator[R]:
    """Time an import; turn any error in it into :class:`ImportFailed` with the reason.

    ``record_failure(report)`` runs first, to keep the failure on record (a
    failure to record is logged, never raised over the import's own error).
    An interruption (Ctrl-C) is recorded too, then passed on as it is.
    """
    started = time.perf_counter()
    try:
        yield report
    except BaseException as exc:
        report.status = "failed"
        report.message = _reason(exc)
        report.seconds = time.perf_counter() - started
        if record_failure is not None:
            try:
                record_failure(report)
            except Exception:
                log.exception("could not record the failed import")
        if isinstance(exc, ImportFailed) or not isinstance(exc, Exception):
            raise
        raise ImportFailed(report) from exc
    report.seconds = time.perf_counter() - started


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ImportFailed):
        return exc.report.message
    if isinstance(exc, (Refused, CivicKitError)):
        return str(exc)
    if isinstance(exc, Exception):
        return f"{exc.__class__.__name__}: {exc}"
    return "interrupted"
