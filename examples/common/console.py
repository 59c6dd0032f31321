"""Import reports and progress on the terminal, for the apps' ``import`` commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import click

from .importing import ImportReport

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID


def print_report(report: ImportReport) -> None:
    """The report in words: what was loaded (or why not), then each skipped row by line."""
    click.echo(f"{report.source}: {report.message}")
    summary = report.summary() if report.status == "ok" else None
    if summary:
        click.echo(f"  {summary}")
    for line in report.skipped_lines():
        click.echo(f"  skipped {line}")
    if report.unlisted_skips:
        click.echo(f"  ... and {report.unlisted_skips:,} more skipped rows, not listed")
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")


def print_json(reports: ImportReport | Sequence[ImportReport]) -> None:
    """One report as a JSON object, or several as a list."""
    if isinstance(reports, ImportReport):
        data: Any = reports.to_dict()
    else:
        data = [r.to_dict() for r in reports]
    click.echo(json.dumps(data, indent=2, default=str))


def import_failed() -> click.ClickException:
    """The closing line (``Error: ...``, exit status 1) after a failed import's report."""
    return click.ClickException(
        "Nothing was changed by the failed import: the previous data is still serving."
    )


class ProgressBar:
    """A :data:`~examples.common.importing.Progress` drawn with rich, one bar per label.

    Shown only on a terminal (and when ``enabled``); otherwise it does nothing.
    Labels with a known total get a bar; others a running count.
    """

    def __init__(self, enabled: bool = True) -> None:
        self._tasks: dict[str, TaskID] = {}
        self._progress: RichProgress | None = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description:<12}"),
                BarColumn(),
                TextColumn("{task.fields[done]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )

    def __enter__(self) -> ProgressBar:
        if self._progress:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress:
            self._progress.stop()

    def __call__(self, label: str, done: int, total: int | None) -> None:
        if not self._progress:
            return
        shown = f"{100 * done // total}%" if total else f"{done:,}"
        if label not in self._tasks:
            self._tasks[label] = self._progress.add_task(label, total=total, done=shown)
        self._progress.update(
            self._tasks[label], completed=done if total else None, total=total, done=shown
        )
