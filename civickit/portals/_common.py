"""What every portal client shares: its HTTP session, URL checks, where a download
goes, atomic files, geometry."""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Self
from urllib.parse import SplitResult, urlsplit

from ..errors import InvalidArgument
from ..http import HttpClient
from .models import Row

__all__ = [
    "PortalClient",
    "atomic_file",
    "download_path",
    "esri_geometry_to_geojson",
    "geo_keys",
    "locate",
    "safe_filename",
    "site_url",
    "write_rows",
]

WRITABLE_FORMATS = ("csv", "jsonl", "geojson", "json")


def site_url(url: str, hint: str) -> SplitResult:
    """``url`` split into its parts; :class:`InvalidArgument` (ending with ``hint``)
    when it has no scheme or host."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise InvalidArgument(f"{url!r} is not a URL; {hint}")
    return parts


class PortalClient:
    """The part every portal client shares: an :class:`HttpClient` of its own unless
    one is given (then closed with the client), use in a ``with`` block, and a
    ``repr`` naming the site."""

    base_url: str
    http: HttpClient
    _owns_http: bool

    def _use_http(self, http: HttpClient | None) -> None:
        self._owns_http = http is None
        self.http = http or HttpClient()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP session if the client made its own."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def safe_filename(name: str, default: str = "download") -> str:
    """A file name made from a resource's id or title: no separators, no surprises."""
    cleaned = re.sub(r"[^\w.\-]+", "-", name.strip()).strip("-.")
    return cleaned or default


def download_path(dest: str | os.PathLike[str], filename: str) -> Path:
    """Where a download to ``dest`` goes.

    A ``dest`` that is an existing folder, or that ends in a path separator
    (``"data/"``), means "into this folder under the resource's own file
    name"; anything else is the file to write.
    """
    text = os.fspath(dest)
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        return path / filename
    return path


@contextlib.contextmanager
def atomic_file(dest: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write ``dest`` through a temporary file beside it, renamed into place only on success."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_rows(rows: Iterable[Row], dest: Path, format: str) -> int:
    """Write rows atomically as CSV, JSON lines, a JSON list or GeoJSON; return how many.

    GeoJSON takes each row's ``geometry`` (or ``latitude``/``longitude``) as the
    feature's geometry and the rest as its properties. CSV columns are those of
    the first row plus any that appear later (the header is written last, so
    nothing is dropped).
    """
    fmt = format.lower()
    if fmt not in WRITABLE_FORMATS:
        raise InvalidArgument(
            f"format must be one of {', '.join(WRITABLE_FORMATS)}, not {format!r}"
        )
    count = 0
    if fmt == "csv":
        return _write_csv(rows, dest)
    with atomic_file(dest) as out:
        if fmt == "jsonl":
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                count += 1
            return count
        opening = '{"type":"FeatureCollection","features":[' if fmt == "geojson" else "["
        out.write(opening + "\n")
        for row in rows:
            item = _feature(row) if fmt == "geojson" else row
            out.write(("," if count else "") + json.dumps(item, ensure_ascii=False, default=str))
            out.write("\n")
            count += 1
        out.write("]}\n" if fmt == "geojson" else "]\n")
    return count


def _feature(row: Row) -> dict[str, Any]:
    props = dict(row)
    geometry = props.pop("geometry", None)
    if (
        geometry is None
        and props.get("latitude") is not None
        and props.get("longitude") is not None
    ):
        geometry = {"type": "Point", "coordinates": [props["longitude"], props["latitude"]]}
    return {"type": "Feature", "geometry": geometry, "properties": props}


def _write_csv(rows: Iterable[Row], dest: Path) -> int:
    """CSV in one pass: the body to a spool file, then header + body into ``dest``."""
    columns: dict[str, None] = {}
    count = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as body:
        writer = csv.writer(body, lineterminator="\n")
        for row in rows:
            for key in row:
                if key not in columns:
                    columns[key] = None
            writer.writerow([_cell(row.get(key)) for key in columns])
            count += 1
        body.seek(0)
        with atomic_file(dest) as out:
            out.write(",".join(_quote(c) for c in columns) + "\n")
            width = len(columns)
            for record in csv.reader(body):
                if len(record) < width:
                    record += [""] * (width - len(record))
                csv.writer(out, lineterminator="\n").writerow(record)
    return count


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"' if any(c in name for c in ',"\n') else name


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


# -- geometry -----------------------------------------------------------------------------


def geo_keys(rows: list[Row]) -> list[str]:
    """The fields holding dicts (points, shapes) in a page: the only ones :func:`_shape` looks at.

    Found once, on the first page, so rows are not scanned field by field; a
    geo field empty throughout that page keeps its values but gains no
    ``latitude``/``longitude`` on later pages.
    """
    keys: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if type(value) is dict:
                keys[key] = None
    return list(keys)


def locate(row: Row, geometry: Mapping[str, Any] | None) -> Row:
    """Put a GeoJSON geometry on ``row``: a point as ``latitude``/``longitude``, else ``geometry``."""
    if not geometry:
        return row
    if geometry.get("type") == "Point":
        coords: list[Any] = list(geometry.get("coordinates") or ())
        if len(coords) >= 2 and coords[0] is not None and coords[1] is not None:
            row.setdefault("latitude", float(coords[1]))
            row.setdefault("longitude", float(coords[0]))
        return row
    row["geometry"] = dict(geometry)
    return row


def esri_geometry_to_geojson(geometry: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An Esri JSON geometry (already in WGS84: ``outSR=4326``) as a GeoJSON geometry.

    Esri rings run clockwise for outer rings and anticlockwise for holes;
    GeoJSON wants the reverse (RFC 7946), and a hole belongs to the outer ring
    before it.
    """
    if not geometry:
        return None
    if "x" in geometry and "y" in geometry:
        if geometry["x"] is None or geometry["y"] is None or geometry["x"] == "NaN":
            return None
        return {"type": "Point", "coordinates": [geometry["x"], geometry["y"]]}
    if "points" in geometry:
        return {"type": "MultiPoint", "coordinates": list(geometry["points"])}
    if "paths" in geometry:
        paths = list(geometry["paths"])
        if len(paths) == 1:
            return {"type": "LineString", "coordinates": paths[0]}
        return {"type": "MultiLineString", "coordinates": paths}
    if "rings" in geometry:
        polygons: list[list[list[Any]]] = []
        for ring in geometry["rings"]:
            if len(ring) < 4:
                continue
            if _signed_area(ring) <= 0 or not polygons:  # clockwise: an outer ring
                polygons.append([list(reversed(ring))])
            else:
                polygons[-1].append(list(reversed(ring)))
        if not polygons:
            return None
        if len(polygons) == 1:
            return {"type": "Polygon", "coordinates": polygons[0]}
        return {"type": "MultiPolygon", "coordinates": polygons}
    return None


def _signed_area(ring: list[list[float]]) -> float:
    """Twice the signed area: negative for a clockwise ring (x east, y north)."""
    total = 0.0
    for (x1, y1, *_), (x2, y2, *_) in itertools.pairwise(ring):
        total += (x2 - x1) * (y2 + y1)
    return -total
