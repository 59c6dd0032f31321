"""``flask --app examples.streetwise sw ...``: load data into the app database.

    sw import [--sample] [--stats19 FILE]... [--leeds-rtc FILE]... [--hospitals FILE]
              [--postcodes FILE]... [--boundaries] [--from-portal] [--stats19-year YEAR]...
              [--json]
    sw crime-baseline (--district CODE... | --all) [--months 12] [--refresh]

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

sw = AppGroup(
    "sw",
    help="Load streetwise's data (collisions, hospitals, postcodes, crime baselines).",
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The ONS Postcode Directory or NSPL (zip or CSV) or Code-Point Open, built into "
    "the local postcode directory. Repeatable (rows and names lookups).",
)
@click.option(
    "--boundaries",
    is_flag=True,
    help="Download finer district boundaries (ONS, generalised to 20 m) instead of the "
    "bundled 500 m set.",
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
    postcodes: tuple[str, ...],
    boundaries: bool,
    from_portal: bool,
    stats19_years: tuple[int, ...],
    max_skipped: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Load collisions, hospitals and postcodes into the app database."""
    if not (
        sample
        or stats19
        or leeds_rtc
        or hospitals
        or postcodes
        or boundaries
        or from_portal
        or stats19_years
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
            if boundaries:
                _boundaries(quiet or as_json)
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
    postcodes: tuple[str, ...],
) -> dict[str, list[Path]]:
    return {
        "stats19": [Path(p) for p in stats19],
        "leeds_rtc": [Path(p) for p in leeds_rtc],
        "hospitals": [Path(hospitals)] if hospitals else [],
        "postcodes": [Path(p) for p in postcodes],
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
    if files["postcodes"]:
        reports.append(
            importer.import_postcodes(
                engine,
                files["postcodes"],
                _postcodes_destination(),
                max_skipped=max_skipped,
                progress=progress,
            )
        )


def _postcodes_destination() -> Path:
    """``POSTCODES_DIRECTORY``, or the instance folder's file when that setting is "none"
    or names the directory bundled with civickit (never overwritten)."""
    from .demo import SAMPLE_POSTCODES

    setting = current_app.config.get("POSTCODES_DIRECTORY") or ""
    dest = Path(current_app.instance_path) / "streetwise_postcodes.db"
    if (
        setting.lower() not in ("", "none")
        and Path(setting).resolve() != SAMPLE_POSTCODES.resolve()
    ):
        dest = Path(setting)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest


def _boundaries(quiet: bool) -> None:
    """Fetch the finer ONS boundary set to ``BOUNDARIES_FILE`` (used from the next start)."""
    from . import fetch

    dest = Path(current_app.config["BOUNDARIES_FILE"])
    count = fetch.district_boundaries(state.get_http(), dest)
    if not quiet:
        click.echo(f"boundaries: {count} districts written to {dest} (used from the next start)")


def _show(reports: list[ImportReport], as_json: bool) -> None:
    if as_json:
        print_json(reports)
    else:
        for report in reports:
            print_report(report)


@sw.command("crime-baseline")
@click.option(
    "--district",
    "districts",
    multiple=True,
    metavar="CODE",
    help="A district's ONS code (E08000035 for Leeds). Repeatable.",
)
@click.option("--all", "all_districts", is_flag=True, help="Every district police.uk covers.")
@click.option("--months", default=12, show_default=True, help="How many recent months.")
@click.option("--refresh", is_flag=True, help="Count again months already stored.")
def crime_baseline(
    districts: tuple[str, ...], all_districts: bool, months: int, refresh: bool
) -> None:
    """Count police.uk street crimes inside each district's boundary, for the comparison.

    Requests keep to police.uk's published rate limit. Each district-month is
    stored as it is counted, so a stopped run (Ctrl-C, SIGTERM) keeps what it
    finished and a second run carries on where it stopped.
    """
    from . import crime
    from .districts import get_districts

    known = get_districts()
    if all_districts == bool(districts):
        raise click.UsageError("Give --district CODE (repeatable) or --all, not both or neither.")
    if all_districts:
        chosen = [known.get(c) for c in known.codes()]
    else:
        chosen = []
        for code in districts:
            found = known.get(code.strip().upper())
            if found is None:
                raise click.BadParameter(
                    f"{code} is not a district code in the {known.vintage} boundaries "
                    "(e.g. E08000035 for Leeds)",
                    param_hint="--district",
                )
            chosen.append(found)
    wanted = [d for d in chosen if d is not None and d.police_uk_covers]
    for d in chosen:
        if d is not None and not d.police_uk_covers:
            click.echo(f"{d.code} {d.name}: skipped (police.uk does not cover Scotland)")
    client = state.get_police()
    engine = state.get_engine()
    try:
        latest = client.available_months()[:months]
    except CivicKitError as exc:
        raise click.ClickException(str(exc)) from exc
    done_months = 0
    with StopSignals() as stop:
        try:
            for district in wanted:
                todo = (
                    latest
                    if refresh
                    else [m for m in latest if m not in crime.stored_months(engine, district.code)]
                )
                if not todo:
                    click.echo(f"{district.code} {district.name}: already counted")
                    continue
                for month in todo:
                    counts = crime.fetch_baseline(client, district, [month], check_stop=stop.check)[
                        month
                    ]
                    crime.store_month(engine, district.code, month, counts)
                    done_months += 1
                    click.echo(
                        f"{district.code} {district.name} {month}: {sum(counts.values()):,} crimes"
                    )
        except Stopped as exc:
            raise click.ClickException(
                f"{exc} after {done_months} district-months; those are stored, and running "
                "the same command again carries on from there."
            ) from exc
        except CivicKitError as exc:
            raise click.ClickException(
                f"{exc} ({done_months} district-months were stored before this)"
            ) from exc
    click.echo(f"crime baseline: {done_months} district-months counted")
