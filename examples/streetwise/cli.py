"""``flask --app examples.streetwise sw ...``: load data into the app database.

    sw import [--sample] [--stats19 FILE]... [--leeds-rtc FILE]... [--hospitals FILE]
              [--postcodes FILE] [--from-portal] [--stats19-year YEAR]... [--json]
    sw crime-baseline [--months 12]

Each kind of data is swapped in atomically: a failed import changes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from civickit.errors import CivicKitError
from civickit.stopping import Stopped, StopSignals

from . import importer

sw = AppGroup("sw", help="Load streetwise's data (collisions, hospitals, postcodes).")


def _engine():
    return current_app.extensions["streetwise.engine"]


def _progress(quiet: bool):
    if quiet:
        return None
    last = {"n": -1}

    def show(kind: str, rows: int) -> None:
        if rows != last["n"]:
            click.echo(f"  {kind}: {rows:,} rows read", err=True)
            last["n"] = rows

    return show


def _print_report(report: importer.ImportReport, limit: int = 20) -> None:
    click.echo(f"{report.kind}: {report.rows:,} rows loaded from {len(report.files)} file(s)")
    if report.skipped:
        click.echo(f"  {len(report.skipped):,} rows skipped:")
        for err in report.skipped[:limit]:
            where = f"{err.source}, line {err.line}" if err.line else err.source
            click.echo(f"    {where}: {err.message}")
        if len(report.skipped) > limit:
            click.echo(f"    ... and {len(report.skipped) - limit:,} more")
    for warning in report.warnings[:limit]:
        click.echo(f"  warning: {warning}")


@sw.command("import")
@click.option("--sample", is_flag=True, help="Load the bundled sample (central Leeds).")
@click.option(
    "--stats19",
    "stats19",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A DfT STATS19 collision CSV (any year's layout). Repeatable.",
)
@click.option(
    "--leeds-rtc",
    "leeds_rtc",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A Leeds City Council yearly road traffic accidents CSV. Repeatable.",
)
@click.option(
    "--hospitals",
    type=click.Path(exists=True, dir_okay=False),
    help="NHS Hospital.csv (¬-separated).",
)
@click.option(
    "--postcodes",
    type=click.Path(exists=True, dir_okay=False),
    help="A postcode CSV: postcode,latitude,longitude, or ONSPD/NSPL.",
)
@click.option(
    "--from-portal",
    is_flag=True,
    help="Download the Leeds RTC yearly files (Data Mill North) and NHS Hospital.csv.",
)
@click.option(
    "--stats19-year",
    "stats19_years",
    multiple=True,
    type=int,
    help="Download the DfT STATS19 collision file for this year. Repeatable.",
)
@click.option(
    "--max-skipped",
    default=1000,
    show_default=True,
    help="Abort (changing nothing) if more rows than this are bad.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
def import_command(
    sample,
    stats19,
    leeds_rtc,
    hospitals,
    postcodes,
    from_portal,
    stats19_years,
    max_skipped,
    as_json,
    quiet,
):
    """Load collisions, hospitals and postcodes into the app database."""
    engine = _engine()
    progress = _progress(quiet or as_json)
    reports: list[importer.ImportReport] = []
    try:
        if sample:
            reports += importer.import_sample(engine, progress=progress)
        stats19, leeds_rtc = list(stats19), list(leeds_rtc)
        if from_portal or stats19_years:
            from . import fetch

            folder = Path(current_app.config["DOWNLOAD_DIR"])
            http = _http()
            if from_portal:
                leeds_rtc += fetch.leeds_rtc_files(http, folder, progress=not quiet)
                hospitals = hospitals or fetch.nhs_hospitals(http, folder, progress=not quiet)
            for year in stats19_years:
                stats19.append(fetch.stats19_file(http, folder, year, progress=not quiet))
        if stats19 or leeds_rtc:
            reports.append(
                importer.import_collisions(
                    engine,
                    stats19=stats19,
                    leeds_rtc=leeds_rtc,
                    max_skipped=max_skipped,
                    progress=progress,
                )
            )
        if hospitals:
            reports.append(
                importer.import_hospitals(
                    engine, Path(hospitals), max_skipped=max_skipped, progress=progress
                )
            )
        if postcodes:
            reports.append(
                importer.import_postcodes(
                    engine, Path(postcodes), max_skipped=max_skipped, progress=progress
                )
            )
    except (importer.ImportFailed, CivicKitError, OSError) as exc:
        for report in reports:
            _print_report(report)
        raise click.ClickException(str(exc)) from exc
    if not reports:
        raise click.UsageError("Nothing to import: give --sample, files, or --from-portal.")
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2, default=str))
    else:
        for report in reports:
            _print_report(report)


def _http():
    from .upstream import http_client

    return http_client(current_app._get_current_object())  # type: ignore[attr-defined]


@sw.command("crime-baseline")
@click.option("--months", default=12, show_default=True, help="How many recent months.")
def crime_baseline(months: int) -> None:
    """Count crimes across Leeds from police.uk, for the comparison on each page."""
    from . import crime, region

    client = crime.police(current_app._get_current_object())  # type: ignore[attr-defined]
    # SIGTERM or Ctrl-C stops it between months; the counts are stored in one
    # transaction at the end, so a stop leaves the stored baseline as it was.
    with StopSignals() as stop:
        try:
            baseline = crime.fetch_baseline(client, months, check_stop=stop.check)
        except Stopped as exc:
            raise click.ClickException(
                f"{exc} before every month was counted; the stored baseline is unchanged."
            ) from exc
        except CivicKitError as exc:
            raise click.ClickException(str(exc)) from exc
    rows = crime.store_baseline(_engine(), baseline, region.outline_area_km2())
    total = sum(sum(c.values()) for c in baseline.values())
    click.echo(f"crime baseline: {total:,} crimes in {len(baseline)} months ({rows} rows)")


def init_app(app: Flask) -> None:
    app.cli.add_command(sw)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run: flask --app examples.streetwise sw --help")
