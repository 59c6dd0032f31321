"""The ``civickit`` command: the library's clients and readers from the shell.

Commands mirror the library (``civickit search`` is ``CKAN.search``) and take
``--json`` where a script would want machine-readable output. Every
:class:`~civickit.errors.CivicKitError` ends as one plain line on stderr and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .errors import CivicKitError

if TYPE_CHECKING:
    from .errors import DataFormatError
    from .http import HttpClient
    from .postcodes import Place, PostcodeDirectory

__all__ = ["main"]


class _Group(click.Group):
    """A click group that turns civickit errors into one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CivicKitError as exc:
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


class FilePath(click.Path):
    """``click.Path`` that refuses a name no file can have (a NUL character) as a usage
    error: click's own lets the ``ValueError`` from ``os.stat`` through as a traceback."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\x00" in value:
            self.fail(f"{value!r} is not a file name (it holds a NUL character).", param, ctx)
        return super().convert(value, param, ctx)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="civickit")
@click.option(
    "--cache",
    envvar="CIVICKIT_CACHE",
    metavar="PATH|redis://",
    help="Cache HTTP responses here (an SQLite file or a redis:// URL).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Read timeout, s (more than 0).",
)
@click.pass_context
def cli(ctx: click.Context, cache: str | None, timeout: float) -> None:
    """Open data plumbing for UK civic-tech prototypes."""
    ctx.obj = {"cache": cache, "timeout": timeout}


def http_client(ctx: click.Context) -> HttpClient:
    """The one HttpClient for this invocation, built from the global options."""
    from .http import HttpClient

    obj = ctx.ensure_object(dict)
    if "http" not in obj:
        obj["http"] = HttpClient(cache=obj.get("cache"), timeout=(5, obj.get("timeout", 30.0)))
        ctx.call_on_close(obj["http"].close)
    client: HttpClient = obj["http"]
    return client


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON (dataclasses via their ``to_dict``)."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=_jsonable))


def echo_json_lines(values: Iterable[Any]) -> None:
    """Print one compact JSON document per line, flushing as it goes."""
    for value in values:
        click.echo(json.dumps(value, ensure_ascii=False, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return str(value)


# -- portals (CKAN, ArcGIS, ArcGIS Hub, OpenDataSoft, Socrata) -----------------------------
# (commands: portals, detect, search, show, records, download, load)


def _portal(ctx: click.Context, name_or_url: str, kind: str | None = None) -> Any:
    """The client for a portal name or URL, sharing this invocation's HttpClient."""
    from .portals import portal

    try:
        return portal(name_or_url, kind=kind, http=http_client(ctx))
    except ValueError as exc:  # UnknownPortal is a CivicKitError too; a malformed URL is not
        if isinstance(exc, CivicKitError):
            raise
        raise click.ClickException(str(exc)) from exc


_KIND = click.option(
    "--kind",
    type=click.Choice(["ckan", "arcgis", "arcgis-hub", "opendatasoft", "socrata"]),
    help="The portal's platform, if you know it (default: ask the site).",
)


def _parse_filters(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("ward=Headingley", "bin=black", "bin=green")`` -> CKAN datastore filters."""
    filters: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.ClickException(
                f"--filter {pair!r} is not FIELD=VALUE (for example --filter ward=Headingley)."
            )
        key = key.strip()
        if key in filters:  # the same field twice means "any of these"
            old = filters[key]
            filters[key] = [*old, value] if isinstance(old, list) else [old, value]
        else:
            filters[key] = value
    return filters


def _positive(limit: int | None, name: str = "--limit") -> int | None:
    if limit is not None and limit < 1:
        raise click.ClickException(f"{name} must be 1 or more, not {limit}.")
    return limit


@cli.command("portals")
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
def portals_command(as_json: bool) -> None:
    """List the UK portals known by name (any portal also works by its URL)."""
    from .portals import known_portals

    infos = list(known_portals().values())
    if as_json:
        echo_json(infos)
        return
    for info in infos:
        click.echo(f"{info.name:<14} {info.kind:<13} {info.url:<48} {info.title}")


@cli.command("detect")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the kind and address as JSON.")
@click.pass_context
def detect_command(ctx: click.Context, url: str, as_json: bool) -> None:
    """Say which platform runs the portal at URL (detect_portal)."""
    from .portals.detect import detect

    try:
        kind, base = detect(url, http=http_client(ctx))
    except ValueError as exc:
        if isinstance(exc, CivicKitError):
            raise
        raise click.ClickException(str(exc)) from exc
    if as_json:
        echo_json({"kind": kind, "url": base})
    else:
        click.echo(f"{kind}  {base}")


@cli.command("search")
@click.argument("portal_name", metavar="PORTAL")
@click.argument("query", default="", required=False)
@click.option("--org", "organization", metavar="NAME", help="Only this organisation's (CKAN).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only with this tag (CKAN).")
@click.option("--limit", type=int, default=20, show_default=True, help="Stop after N datasets.")
@_KIND
@click.option("--json", "as_json", is_flag=True, help="Print the datasets as a JSON list.")
@click.pass_context
def search_command(
    ctx: click.Context,
    portal_name: str,
    query: str,
    organization: str | None,
    tags: tuple[str, ...],
    limit: int,
    kind: str | None,
    as_json: bool,
) -> None:
    """Search a portal's datasets (Portal.search). Default QUERY: everything."""
    client = _portal(ctx, portal_name, kind)
    if client.kind == "ckan":
        datasets = client.search(
            query or "*:*",
            organization=organization,
            tags=list(tags) or None,
            limit=_positive(limit),
        )
    elif organization or tags:
        raise click.ClickException("--org and --tag work on CKAN portals only.")
    else:
        datasets = client.search(query, limit=_positive(limit))
    if as_json:
        echo_json(list(datasets))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "title", "organisation", "modified")
    for ds in datasets:
        modified = ds.metadata_modified.date().isoformat() if ds.metadata_modified else ""
        table.add_row(ds.name, ds.title, ds.organization or "", modified)
    Console().print(table)


@cli.command("show")
@click.argument("portal_name", metavar="PORTAL")
@click.argument("dataset")
@_KIND
@click.option("--json", "as_json", is_flag=True, help="Print the dataset as JSON.")
@click.pass_context
def show_command(
    ctx: click.Context, portal_name: str, dataset: str, kind: str | None, as_json: bool
) -> None:
    """Show one dataset and its resources (Portal.dataset)."""
    ds = _portal(ctx, portal_name, kind).dataset(dataset)
    if as_json:
        echo_json(ds)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{ds.title}[/bold]  ({ds.name})", highlight=False)
    console.print(ds.url, highlight=False)
    console.print(
        f"organisation: {ds.organization or '-'}   licence: {ds.license_id or '-'}   "
        f"modified: {ds.metadata_modified.isoformat() if ds.metadata_modified else '-'}",
        highlight=False,
    )
    if ds.notes:
        console.print(ds.notes if len(ds.notes) < 400 else ds.notes[:400] + "...", markup=False)
    table = Table("resource id", "format", "records", "name")
    for res in ds.resources:
        table.add_row(res.id, res.format, "yes" if res.datastore_active else "", res.name)
    console.print(table)


@cli.command("records")
@click.argument("portal_name", metavar="PORTAL")
@click.argument("resource_id", metavar="RESOURCE")
@click.option("--where", metavar="EXPR", help="The platform's filter (SQL, SoQL or ODSQL).")
@click.option(
    "--filter",
    "filter_pairs",
    multiple=True,
    metavar="FIELD=VALUE",
    help="CKAN: only rows where FIELD equals VALUE (repeat; a field twice means either).",
)
@click.option("-q", "--query", "q", metavar="TEXT", help="CKAN: full-text search in the table.")
@click.option("--limit", type=int, default=None, help="Stop after N rows (default: all).")
@_KIND
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one row per line.")
@click.pass_context
def records_command(
    ctx: click.Context,
    portal_name: str,
    resource_id: str,
    where: str | None,
    filter_pairs: tuple[str, ...],
    q: str | None,
    limit: int | None,
    kind: str | None,
    as_json: bool,
) -> None:
    """Stream every row of a table (Portal.records) as CSV or JSON lines."""
    filters = _parse_filters(filter_pairs)
    client = _portal(ctx, portal_name, kind)
    if client.kind == "ckan":
        if where:
            raise click.ClickException("on a CKAN portal use --filter FIELD=VALUE or -q TEXT.")
        rows = client.records(resource_id, filters=filters or None, q=q, limit=_positive(limit))
    elif filters or q:
        raise click.ClickException(
            f"--filter and -q work on CKAN portals; use --where on {client.kind}."
        )
    else:
        rows = client.records(resource_id, where=where, limit=_positive(limit))
    if as_json:
        echo_json_lines(rows)
        return
    import csv

    writer = None
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(
                sys.stdout, fieldnames=list(row), extrasaction="ignore", lineterminator="\n"
            )
            writer.writeheader()
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()}
        )


@cli.command("download")
@click.argument("portal_name", metavar="PORTAL")
@click.argument("resource_id", metavar="RESOURCE")
@click.option(
    "-o",
    "--output",
    type=FilePath(path_type=str),
    help="File or folder to write to (default: the resource's own name, here).",
)
@click.option(
    "--format", "fmt", metavar="FMT", help="csv, geojson, json... where there is a choice."
)
@_KIND
@click.option("--json", "as_json", is_flag=True, help="Print what was saved as JSON.")
@click.pass_context
def download_command(
    ctx: click.Context,
    portal_name: str,
    resource_id: str,
    output: str | None,
    fmt: str | None,
    kind: str | None,
    as_json: bool,
) -> None:
    """Download a resource's file atomically, with a progress bar (Portal.download)."""
    client = _portal(ctx, portal_name, kind)
    try:
        path = client.download(resource_id, output or ".", format=fmt, progress=not as_json)
    except ValueError as exc:
        if isinstance(exc, CivicKitError):
            raise
        raise click.ClickException(str(exc)) from exc
    size = path.stat().st_size
    if as_json:
        echo_json({"path": str(path), "bytes": size, "resource": resource_id})
    else:
        click.echo(f"Saved {path} ({size:,} bytes)")


@cli.command("load")
@click.argument("portal_name", metavar="PORTAL")
@click.argument("dataset")
@click.argument("resource_id", metavar="[RESOURCE]", required=False)
@click.option("--db", "db_path", required=True, type=FilePath(dir_okay=False), help="SQLite file.")
@click.option("--table", metavar="NAME", help="Table to (re)place (default: from the dataset).")
@click.option("--where", metavar="EXPR", help="Only rows matching the platform's filter.")
@click.option("--limit", type=int, default=None, help="Stop after N rows (default: all).")
@_KIND
@click.pass_context
def load_command(
    ctx: click.Context,
    portal_name: str,
    dataset: str,
    resource_id: str | None,
    db_path: str,
    table: str | None,
    where: str | None,
    limit: int | None,
    kind: str | None,
) -> None:
    """Load a table into SQLite (typed columns, swapped in atomically); browse it with Datasette.

    RESOURCE defaults to the dataset's first table (a CKAN datastore resource,
    an ArcGIS layer, the Socrata or OpenDataSoft dataset itself).
    """
    from .portals.loader import load, table_name

    client = _portal(ctx, portal_name, kind)
    if resource_id is None:
        ds = client.dataset(dataset)
        resource = ds.table()
        if resource is None:
            raise click.ClickException(
                f"{dataset} has no table to load (no resource is readable row by row); "
                "name a RESOURCE, or use civickit download."
            )
        table = table or table_name(ds.name if client.kind != "arcgis" else resource.name)
    else:
        resource = resource_id
        table = table or table_name(dataset if client.kind not in ("arcgis",) else resource_id)
    if where is not None and client.kind == "ckan":
        raise click.ClickException("--where is not for CKAN portals; load the whole table.")
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("loading {task.description}: {task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(table, total=None)
        result = load(
            client,
            resource,
            db_path,
            table=table,
            where=where,
            limit=_positive(limit),
            on_row=lambda n: bar.update(task, completed=n),
        )
    click.echo(f"Loaded {result.rows:,} rows into {result.db} table {result.table}")
    click.echo(f"Browse them: datasette {result.db}")


# -- postcodes and police.uk -----------------------------------------------------------
# (commands: postcode, postcodes build|fetch|info, crime)


@cli.command("postcode")
@click.argument("postcodes", nargs=-1, required=True, metavar="PC...")
@click.option(
    "--offline", is_flag=True, help="Answer from the local postcode directory alone, never online."
)
@click.option("--json", "as_json", is_flag=True, help="Print the full records as JSON.")
@click.pass_context
def postcode_command(
    ctx: click.Context, postcodes: tuple[str, ...], offline: bool, as_json: bool
) -> None:
    """Look up postcodes (Postcodes.lookup / lookup_many).

    The local postcode directory answers first when there is one
    (CIVICKIT_POSTCODES, or the one `civickit postcodes fetch` made);
    postcodes.io answers the rest. Every postcode is checked offline first;
    unknown ones are reported on stderr and make the exit status 1.
    """
    from .postcodes import Postcodes, normalise

    for text in postcodes:
        normalise(text)  # refuse junk before any request
    client = Postcodes(http=http_client(ctx), offline=offline)
    found: dict[str, Place | None]
    if len(postcodes) == 1:
        found = {postcodes[0]: client.lookup(postcodes[0])}
    else:
        found = client.lookup_many(postcodes)
    places = [place for place in found.values() if place is not None]
    if as_json:
        echo_json(places)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table("postcode", "lat", "lon", "district", "ward")
        for place in places:
            table.add_row(
                place.postcode,
                _coord(place.latitude),
                _coord(place.longitude),
                place.admin_district or place.codes.get("admin_district") or "",
                place.admin_ward or place.codes.get("admin_ward") or "",
            )
        Console().print(table)
    missing = [text for text, place in found.items() if place is None]
    if offline:
        why = "is not in the local postcode directory (looked up offline)."
    elif not client.online_now:
        why = (
            "is not in the local postcode directory, and postcodes.io could not be reached "
            "to look further (check your connection; the service may also be down)."
        )
    else:
        why = "is not a postcode in use."
    for text in missing:
        click.echo(f"Error: {text} {why}", err=True)
    if missing:
        ctx.exit(1)


@cli.group("postcodes")
def postcodes_group() -> None:
    """The local postcode directory: build it from the ONS files, fetch the latest, inspect it."""


def _directory_path(output: str | None) -> Path:
    from .postcodes import default_directory, user_directory_path

    if output:
        return Path(output)
    return default_directory() or user_directory_path()


def _build(sources: list[str | Path], dest: Path, strict: bool) -> PostcodeDirectory:
    """Build, reporting skipped rows on stderr (the first 20), or stopping at one (--strict)."""
    from .postcodes import PostcodeDirectory

    shown = 0

    def report(error: DataFormatError) -> None:
        nonlocal shown
        shown += 1
        if shown <= 20:
            click.echo(f"skipped {error}", err=True)

    return PostcodeDirectory.build(
        sources, dest, progress=sys.stderr.isatty(), on_error=None if strict else report
    )


def _summary(directory: PostcodeDirectory, as_json: bool) -> None:
    info = dict(directory.info, path=str(directory.path))
    if as_json:
        echo_json(info)
        return
    release = f" ({info['release']})" if info.get("release") else ""
    click.echo(
        f"{info['path']}: {int(info['rows']):,} postcodes{release}, "
        f"{int(info['in_use']):,} in use, {int(info['retired']):,} retired, "
        f"{int(info['without_location']):,} without a location; "
        f"built {info['built']} from {info['source']}"
    )
    if int(info.get("skipped", 0)) or int(info.get("duplicates", 0)):
        click.echo(
            f"skipped {int(info['skipped']):,} unreadable rows and "
            f"{int(info['duplicates']):,} repeated postcodes",
            err=True,
        )


@postcodes_group.command("build")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "-o",
    "--output",
    type=FilePath(dir_okay=False),
    help="Where to write the directory (default: $CIVICKIT_POSTCODES, else your data folder).",
)
@click.option("--strict", is_flag=True, help="Stop at the first unreadable row (default: skip it).")
@click.option("--json", "as_json", is_flag=True, help="Print what was built as JSON.")
def postcodes_build_command(
    files: tuple[str, ...], output: str | None, strict: bool, as_json: bool
) -> None:
    """Build a postcode directory from the ONSPD, NSPL or Code-Point Open.

    FILE is the published zip or a CSV from it, in any release's layout;
    give several for Code-Point Open's per-area CSVs or a names lookup. The
    new directory replaces the old one only once it is complete.
    """
    directory = _build(list(files), _directory_path(output), strict)
    _summary(directory, as_json)


@postcodes_group.command("fetch")
@click.option(
    "-o",
    "--output",
    type=FilePath(dir_okay=False),
    help="Where to write the directory (default: $CIVICKIT_POSTCODES, else your data folder).",
)
@click.option("--url", help="Download the ONSPD zip from here instead of finding the latest.")
@click.option("--strict", is_flag=True, help="Stop at the first unreadable row (default: skip it).")
@click.option("--json", "as_json", is_flag=True, help="Print what was built as JSON.")
@click.pass_context
def postcodes_fetch_command(
    ctx: click.Context, output: str | None, url: str | None, strict: bool, as_json: bool
) -> None:
    """Download the latest ONS Postcode Directory and build the local directory from it.

    The zip is kept beside the directory, so running this again downloads
    nothing unless a newer release is out, and an interrupted download
    resumes where it stopped.
    """
    from .datasets.onspd import latest_onspd
    from .postcodes import PostcodeDirectory

    dest = _directory_path(output)
    http = http_client(ctx)
    if url is None:
        release = latest_onspd(http=http)
        url = release.url
        if not as_json:
            click.echo(f"latest: {release.title} ({url})", err=True)
    zipped = dest.with_name(dest.stem + "-onspd.zip")
    download = http.download(url, zipped, progress=sys.stderr.isatty(), resume=True)
    if not download.changed and dest.is_file():
        if not as_json:
            click.echo(f"{zipped.name} is unchanged on the server; {dest} is up to date.", err=True)
        _summary(PostcodeDirectory(dest), as_json)
        return
    _summary(_build([zipped], dest, strict), as_json)


@postcodes_group.command("info")
@click.argument("path", required=False, type=FilePath(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the details as JSON.")
def postcodes_info_command(path: str | None, as_json: bool) -> None:
    """Say what a postcode directory holds and where it came from (default: the one in use)."""
    from .errors import NoPostcodeDirectory
    from .postcodes import PostcodeDirectory, default_directory

    found = path or default_directory()
    if found is None:
        raise NoPostcodeDirectory(None)
    _summary(PostcodeDirectory(found), as_json)


@cli.command("crime")
@click.argument("pc", metavar="PC")
@click.option("--month", metavar="YYYY-MM", help="Month to show (default: the newest).")
@click.option("--category", default="all-crime", show_default=True, help="A police.uk category id.")
@click.option("--json", "as_json", is_flag=True, help="Print the crime records as JSON.")
@click.pass_context
def crime_command(
    ctx: click.Context, pc: str, month: str | None, category: str, as_json: bool
) -> None:
    """Street-level crime within a mile of a postcode (PoliceUK.street_crimes)."""
    from collections import Counter

    from .police import PoliceUK, check_category, normalise_month
    from .postcodes import Postcodes, normalise

    # refuse junk before any request
    normalise(pc)
    month = normalise_month(month) if month is not None else None
    check_category(category)
    http = http_client(ctx)
    place = Postcodes(http=http).lookup(pc)
    if place.latitude is None or place.longitude is None:
        raise click.ClickException(f"{place.postcode} has no coordinates to search around.")
    police = PoliceUK(http=http)
    month = police.resolve_month(month)
    crimes = police.street_crimes(place.latitude, place.longitude, month=month, category=category)
    if as_json:
        echo_json(crimes)
        return
    from rich.console import Console
    from rich.table import Table

    counts = Counter(crime.category for crime in crimes)
    table = Table(
        title=f"Street-level crime within 1 mile of {place.postcode}, {month}",
        caption="Locations are approximate (police.uk moves each crime to a nearby map point).",
    )
    table.add_column("category")
    table.add_column("crimes", justify="right")
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(name, str(count))
    table.add_row("total", str(len(crimes)), style="bold")
    Console().print(table)


def _coord(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


# -- published files -------------------------------------------------------------------
# (commands: read)

#: ``civickit read KIND``: the reader behind each kind of file
READERS = {
    "premises": ("civickit.datasets.bins", "read_premises"),
    "jobs": ("civickit.datasets.bins", "read_jobs"),
    "stats19": ("civickit.datasets.collisions", "read_stats19"),
    "leeds-rtc": ("civickit.datasets.collisions", "read_leeds_rtc"),
    "hospitals": ("civickit.datasets.hospitals", "read_nhs"),
}


@cli.command("read")
@click.argument("kind", metavar="KIND")
@click.argument("file", metavar="FILE")
@click.option(
    "--encoding",
    metavar="NAME",
    help="The file's text encoding, e.g. cp1252 or utf-16 (default: detect it).",
)
def read_command(kind: str, file: str, encoding: str | None) -> None:
    """Read a published FILE of KIND and print one JSON record per line.

    KIND is premises or jobs (Leeds bins), stats19, leeds-rtc or hospitals
    (NHS Hospital.csv). FILE may be - for standard input. Bad rows are
    reported on stderr with their line numbers and skipped; a count follows
    at the end. The exit status is 1 if any row was skipped, so a script
    notices, and 0 otherwise.
    """
    import importlib

    if kind not in READERS:
        raise click.ClickException(f"unknown kind {kind!r}: choose one of {', '.join(READERS)}")
    if encoding is not None:
        import codecs

        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise click.ClickException(
                f"--encoding {encoding!r} is not an encoding Python knows "
                "(try utf-8, cp1252 or utf-16)."
            ) from None
    module, name = READERS[kind]
    reader = getattr(importlib.import_module(module), name)
    skipped = 0

    def report(error: CivicKitError) -> None:
        nonlocal skipped
        skipped += 1
        click.echo(str(error), err=True)

    count = 0

    def counted(records: Iterable[Any]) -> Iterable[Any]:
        nonlocal count
        for record in records:
            count += 1
            yield record

    src: Any = sys.stdin.buffer if file == "-" else file
    echo_json_lines(counted(reader(src, on_error=report, encoding=encoding)))
    click.echo(f"read {count:,} rows, skipped {skipped:,}", err=True)
    if skipped:
        sys.exit(1)


# -- a new app -------------------------------------------------------------------------
# (commands: new)

_PROJECT_NAME = r"[A-Za-z][A-Za-z0-9_-]*"


def starter_template() -> Path:
    """The starter app's folder: in the installed wheel, or examples/starter in a clone."""
    import civickit

    here = Path(civickit.__file__).resolve().parent
    for folder in (here / "starter_template", here.parent / "examples" / "starter"):
        if (folder / "copier.yml").is_file():
            return folder
    raise CivicKitError(
        "the starter template is missing from this civickit install; reinstall civickit."
    )


def _civickit_source() -> str:
    """What a new project's pip installs civickit from: this clone when run from one."""
    import civickit

    clone = Path(civickit.__file__).resolve().parent.parent
    if (clone / "pyproject.toml").is_file() and (clone / "examples" / "starter").is_dir():
        return str(clone)
    return "civickit"


@cli.command("new")
@click.argument("name")
@click.option("--portal", metavar="NAME|URL", help="A portal civickit knows (civickit portals).")
@click.option("--dataset", metavar="ID", help="The dataset on --portal whose rows the app maps.")
@click.option(
    "-o",
    "--output",
    type=FilePath(file_okay=False, path_type=Path),
    help="The folder to create (default: ./NAME).",
)
@click.option(
    "--civickit",
    "source",
    metavar="REQ",
    help="What the project's pip installs civickit from: a name, wheel or clone "
    "(default: this clone, else civickit).",
)
def new_command(
    name: str, portal: str | None, dataset: str | None, output: Path | None, source: str | None
) -> None:
    """Start an app of your own: a dataset's rows near a postcode, on a page with a map.

    Makes the folder NAME from civickit's starter app (examples/starter): a
    Flask app styled with the GOV.UK Design System, a JSON endpoint, tests,
    a pyproject.toml and a Makefile (make demo, make test). Without --portal
    it shows a bundled sample of NHS hospitals and runs offline; with
    --portal and --dataset it maps that dataset's rows.
    """
    import re

    from .portals import known_portals

    if not re.fullmatch(_PROJECT_NAME, name):
        raise click.BadParameter(
            f"{name!r} is not a project name: use letters, digits, - and _, starting with "
            "a letter (for example bins-near-me).",
            param_hint="NAME",
        )
    if (portal is None) != (dataset is None):
        raise click.UsageError("give --portal and --dataset together (or neither, for the sample).")
    if portal is not None:
        text = portal.strip()
        if text.lower() not in known_portals() and not re.match(r"https?://[^/\s]+", text):
            from .errors import UnknownPortal

            raise UnknownPortal(text, known=list(known_portals()))
    dest = output if output is not None else Path(name)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise click.ClickException(f"{dest} already exists; choose another NAME or --output.")
    from copier import run_copy
    from copier.errors import CopierError

    data = {
        "project_name": name,
        "portal": portal or "",
        "dataset": dataset or "",
        "civickit": source or _civickit_source(),
        "civickit_version": __version__,
    }
    try:
        run_copy(
            str(starter_template()), str(dest), data=data, defaults=True, quiet=True, unsafe=False
        )
    except (CopierError, OSError) as exc:
        raise click.ClickException(f"could not make {dest}: {exc}") from exc
    click.echo(f"Made {dest}. Next:\n  cd {dest}\n  make demo    # then http://127.0.0.1:5000")
    click.echo("  make test")


def main() -> None:
    cli(prog_name="civickit")


if __name__ == "__main__":
    main()
