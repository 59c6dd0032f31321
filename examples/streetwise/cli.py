"""``flask --app examples.streetwise sw ...``: load data into the app database.

    sw import [--sample] [--stats19 FILE]... [--leeds-rtc FILE]... [--hospitals FILE]
              [--postcodes FILE] [--from-portal] [--stats19-year YEAR]... [--json]
    sw crime-baseline [--months 12]

Each kind of data is swapped in atomically: a failed import changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from civickit.errors import CivicKitError
from civickit.stopping import Stopped, StopSignals
from examples.common import ImportFailed, ImportReport, Progress
from examples.common.console import ProgressBar, import_failed, print_json, print_report

from . import importer, state

sw = AppGroup("sw", help="Load streetwise's data (collisions, hospitals, postcodes).")


def init_app(app: Flask) -> None:
    app.cli.add_command(sw)


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
    sample: bool,
    stats19: tuple[str, ...],
    leeds_rtc: tuple[str, ...],
    hospitals: str | None,
    postcodes: str | None,
    from_portal: bool,
    stats19_years: tuple[int, ...],
    max_skipped: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Load collisions, hospitals and postcodes into the app database."""
    if not (
        sample or stats19 or leeds_rtc or hospitals or postcodes or from_portal or stats19_years
    ):
        raise click.UsageError("Nothing to import: give --sample, files, or --from-portal.")
    engine = state.get_engine()
    reports: list[ImportReport] = []
    with ProgressBar(enabled=not (quiet or as_json)) as progress:
        try:
            if sample:
                reports += importer.import_sample(engine, progress=progress)
            files = _files(stats19, leeds_rtc, hospitals, postcodes)
            if from_portal or stats19_years:
                _download(files, from_portal, stats19_years, progress=not quiet)
            _import_files(reports, engine, files, max_skipped, progress)
        except ImportFailed as exc:
            reports.append(exc.report)
        except (CivicKitError, OSError) as exc:  # a failed download: nothing more was imported
            _show(reports, as_json)
            raise click.ClickException(str(exc)) from exc
    _show(reports, as_json)
    if not all(r.ok for r in reports):
        raise import_failed()


def _files(
    stats19: tuple[str, ...],
    leeds_rtc: tuple[str, ...],
    hospitals: str | None,
    postcodes: str | None,
) -> dict[str, list[Path]]:
    return {
        "stats19": [Path(p) for p in stats19],
        "leeds_rtc": [Path(p) for p in leeds_rtc],
        "hospitals": [Path(hospitals)] if hospitals else [],
        "postcodes": [Path(postcodes)] if postcodes else [],
    }


def _download(
    files: dict[str, list[Path]],
    from_portal: bool,
    stats19_years: tuple[int, ...],
    *,
    progress: bool,
) -> None:
    """Add the published files to ``files``, downloaded when they changed."""
    from . import fetch

    folder = Path(current_app.config["DOWNLOAD_DIR"])
    http = state.get_http()
    if from_portal:
        files["leeds_rtc"] += fetch.leeds_rtc_files(http, folder, progress=progress)
        if not files["hospitals"]:
            files["hospitals"] = [fetch.nhs_hospitals(http, folder, progress=progress)]
    for year in stats19_years:
        files["stats19"].append(fetch.stats19_file(http, folder, year, progress=progress))


def _import_files(
    reports: list[ImportReport],
    engine: sa.Engine,
    files: dict[str, list[Path]],
    max_skipped: int,
    progress: Progress,
) -> None:
    """Import each kind given, in turn, adding each report as it is done."""
    if files["stats19"] or files["leeds_rtc"]:
        reports.append(
            importer.import_collisions(
                engine,
                stats19=files["stats19"],
                leeds_rtc=files["leeds_rtc"],
                max_skipped=max_skipped,
                progress=progress,
            )
        )
    for path in files["hospitals"]:
        reports.append(
            importer.import_hospitals(engine, path, max_skipped=max_skipped, progress=progress)
        )
    for path in files["postcodes"]:
        reports.append(
            importer.import_postcodes(engine, path, max_skipped=max_skipped, progress=progress)
        )


def _show(reports: list[ImportReport], as_json: bool) -> None:
    if as_json:
        print_json(reports)
    else:
        for report in reports:
            print_report(report)


@sw.command("crime-baseline")
@click.option("--months", default=12, show_default=True, help="How many recent months.")
def crime_baseline(months: int) -> None:
    """Count crimes across Leeds from police.uk, for the comparison on each page."""
    from . import crime, region

    client = state.get_police()
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
    rows = crime.store_baseline(state.get_engine(), baseline, region.outline_area_km2())
    total = sum(sum(c.values()) for c in baseline.values())
    click.echo(f"crime baseline: {total:,} crimes in {len(baseline)} months ({rows} rows)")
