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
from typing import Any

import click

from . import __version__
from .errors import CivicKitError

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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="civickit")
@click.option(
    "--cache",
    envvar="CIVICKIT_CACHE",
    metavar="PATH|redis://",
    help="Cache HTTP responses here (an SQLite file or a redis:// URL).",
)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Read timeout, s.")
@click.pass_context
def cli(ctx: click.Context, cache: str | None, timeout: float) -> None:
    """Open data plumbing for UK civic-tech prototypes."""
    ctx.obj = {"cache": cache, "timeout": timeout}


def http_client(ctx: click.Context):
    """The one HttpClient for this invocation, built from the global options."""
    from .http import HttpClient

    obj = ctx.ensure_object(dict)
    if "http" not in obj:
        obj["http"] = HttpClient(cache=obj.get("cache"), timeout=(5, obj.get("timeout", 30.0)))
        ctx.call_on_close(obj["http"].close)
    return obj["http"]


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


# -- portals (CKAN) -------------------------------------------------------------------
# (commands: portals, search, show, records, download)


# -- postcodes and police.uk -----------------------------------------------------------
# (commands: postcode, crime)


# -- published files -------------------------------------------------------------------
# (commands: read)


def main() -> None:
    cli(prog_name="civickit")


if __name__ == "__main__":
    sys.exit(main())
