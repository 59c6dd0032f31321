"""Reading the published postcode files: ONSPD, NSPL and Code-Point Open, in any header era.

Private to :mod:`civickit.postcodes`, whose ``PostcodeDirectory.build`` reads
through here (in :mod:`.builder`). The inputs are files or zip archives; every
CSV among them is put in one of three roles by its first line:

* **rows**: a header naming a postcode column (``pcds``, ``pcd``, ``pcd7``...),
  as the ONS Postcode Directory (ONSPD) and the National Statistics Postcode
  Lookup (NSPL) write them; or no header and a postcode in the first field,
  as Ordnance Survey's Code-Point Open writes its per-area files;
* **names**: a lookup of GSS codes to names (``LAD23CD,LAD23NM,...``, or
  ``code,name``), as the ONSPD and NSPL ship in their ``Documents`` folder;
* **Code-Point Open column headers** (``Code-Point_Open_Column_Headers.csv``),
  which name the columns of the headerless rows.

A published ONSPD or NSPL zip holds the whole-UK file and the same rows again
split by area (``multi_csv``): the whole-UK file is read when present, the
split files otherwise. Other members (user guides, workbooks) are passed over.

Columns are found by name, whichever release wrote them: ``oslaua`` (ONSPD),
``laua`` (NSPL) or a year-coded ``lad24cd`` for the district, and likewise for
the other codes; ``lat``/``long`` for WGS84; ``oseast1m``/``osnrth1m`` for the
British National Grid. Rows with grid references but no latitude and longitude
(Code-Point Open) are converted by :func:`civickit.geo.osgb_to_wgs84_many`.
"""

from __future__ import annotations

import csv
import io
import operator
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, NamedTuple

from ..errors import (
    DataFormatError,
    InvalidArgument,
    InvalidPostcode,
)
from ..geo import osgb_to_wgs84_many
from ..tabular import open_table
from .place import CODE_FIELDS, normalise

__all__ = ["CODE_POINT_COLUMNS", "Plan", "Row", "plan"]

#: Code-Point Open's columns, in order, as its column-headers file names them
#: (used when a Code-Point Open file arrives without that file).
CODE_POINT_COLUMNS = (
    "Postcode",
    "Positional_quality_indicator",
    "Eastings",
    "Northings",
    "Country_code",
    "NHS_regional_HA_code",
    "NHS_HA_code",
    "Admin_county_code",
    "Admin_district_code",
    "Admin_ward_code",
)

# Column names by meaning, lower case: exact names first, then a pattern for the
# year-coded names (lad24cd); of several year-coded columns the newest is used.
_POSTCODE = ("pcds", "pcd", "pcd2", "pcd7", "pcd8", "postcode", "pc")
_COLUMNS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "latitude": (("lat", "latitude"), None),
    "longitude": (("long", "lon", "lng", "longitude"), None),
    "eastings": (("oseast1m", "east1m", "eastings", "easting", "ea"), None),
    "northings": (("osnrth1m", "north1m", "northings", "northing", "no"), None),
    "quality": (("osgrdind", "gridind", "positional_quality_indicator", "pq"), None),
    "terminated": (("doterm", "date_of_termination"), None),
    "country": (("ctry", "country_code", "cy"), r"ctry(\d\d)cd"),
    "region": (("rgn", "gor"), r"rgn(\d\d)cd"),
    "admin_county": (("oscty", "cty", "admin_county_code", "cc"), r"cty(\d\d)cd"),
    "admin_district": (("oslaua", "laua", "admin_district_code", "dc"), r"lad(\d\d)cd"),
    "admin_ward": (("osward", "ward", "admin_ward_code", "wc"), r"wd(\d\d)cd"),
    "parish": (("parish",), r"parn?(\d\d)cd"),
    "ced": (("ced",), r"ced(\d\d)cd"),
    "parliamentary_constituency": (("pcon",), r"pcon(\d\d)cd"),
    "lsoa": ((), r"lsoa(\d\d)(?:cd)?"),
    "msoa": ((), r"msoa(\d\d)(?:cd)?"),
    "pfa": (("pfa",), r"pfa(\d\d)cd"),
}
# Grid-reference quality values meaning "no grid reference": ONSPD/NSPL osgrdind 9,
# Code-Point Open 90.
_NO_GRID = frozenset({"9", "90"})
_NAME_PAIR = re.compile(r"([a-z]+\d*)cd", re.I)
_RELEASE = re.compile(r"(ONSPD|NSPL)[_ ]?([A-Z]{3})[_ ]?(\d{4})", re.I)
_BATCH = 20_000  # rows converted from the grid at once


class Row(NamedTuple):
    """One postcode as read: coordinates in millionths of a degree, dates as YYYYMM."""

    postcode: str
    lat_e6: int | None
    lon_e6: int | None
    eastings: int | None
    northings: int | None
    terminated: int | None
    codes: tuple[str, ...]  # in CODE_FIELDS order; "" where the file has none


@dataclass
class _Part:
    """One CSV to read: a file, or a member of a zip archive."""

    name: str
    size: int
    opener: Callable[[], IO[bytes]]
    first_line: str
    folder: str = ""


@dataclass
class Plan:
    """What the inputs hold: the row files to read, code names, and how they are laid out."""

    rows: list[_Part] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    code_point_columns: tuple[str, ...] | None = None
    sources: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # archive members not read

    @property
    def total_bytes(self) -> int:
        return sum(part.size for part in self.rows)

    @property
    def release(self) -> str:
        """The ONSPD/NSPL release the file names give (``ONSPD FEB 2025``), or ``""``."""
        for name in [*(part.name for part in self.rows), *self.sources]:
            found = _RELEASE.search(PurePosixPath(name).name)
            if found:
                return " ".join(g.upper() for g in found.groups())
        return ""

    def read(
        self,
        *,
        on_error: Callable[[DataFormatError], None] | None,
        advance: Callable[[int], None],
    ) -> Iterator[Row]:
        """Every row of every row file, in file order."""
        for part in self.rows:
            yield from _read_rows(part, self, on_error, advance)

    def layouts(self) -> str:
        """How the row files are laid out, in a few words, for the directory's metadata."""
        return "; ".join(sorted({_describe(part.first_line) for part in self.rows}))


def plan(sources: Sequence[str | os.PathLike[str]]) -> Plan:
    """Look at every input and decide what to read; nothing is read in full yet."""
    result = Plan()
    for src in sources:
        path = Path(src)
        result.sources.append(path.name)
        if not path.exists():
            raise DataFormatError(str(path), None, "no such file")
        if path.is_dir():
            raise DataFormatError(str(path), None, "a folder, not a file: name the CSV or zip")
        if zipfile.is_zipfile(path):
            _plan_zip(path, result)
        else:
            part = _file_part(path)
            if not _classify(part, result):
                raise DataFormatError(
                    str(path), 1, "not an ONSPD, NSPL or Code-Point Open file, nor a names lookup"
                )
    if not result.rows:
        raise DataFormatError(
            ", ".join(str(s) for s in sources),
            None,
            "no postcode rows found: expected the ONSPD, NSPL or Code-Point Open "
            "(the published zip, or the CSV inside it)",
        )
    return result


def _file_part(path: Path) -> _Part:
    with path.open("rb") as f:
        first = _text(f.readline(4096))
    return _Part(str(path), path.stat().st_size, lambda: path.open("rb"), first)


def _plan_zip(path: Path, result: Plan) -> None:
    with zipfile.ZipFile(path) as archive:
        members = [
            m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(".csv")
        ]
        parts = []
        for member in members:
            with archive.open(member) as f:
                first = _text(f.readline(4096))
            parts.append(
                _Part(
                    f"{path.name}:{member.filename}",
                    member.file_size,
                    _member_opener(path, member.filename),
                    first,
                    str(PurePosixPath(member.filename).parent),
                )
            )
    # read the column headers first: they name the columns of the rows that follow
    parts.sort(key=lambda p: "column_headers" not in p.name.lower())
    found: list[_Part] = []
    for part in parts:
        before = len(result.rows)
        if not _classify(part, result):
            result.ignored.append(part.name)
        elif len(result.rows) > before:
            found.append(result.rows.pop())
    # the whole-UK file, when the archive also holds the rows split by area
    whole = [p for p in found if "multi_csv" not in p.folder.lower().split("/")]
    result.rows.extend(whole or found)
    result.ignored.extend(p.name for p in found if whole and p not in whole)


def _member_opener(path: Path, member: str) -> Callable[[], IO[bytes]]:
    def opener() -> IO[bytes]:
        with zipfile.ZipFile(path) as archive:
            return archive.open(member)  # the member keeps the file open until it is closed

    return opener


def _text(raw: bytes) -> str:
    raw = raw.lstrip(b"\xef\xbb\xbf").rstrip(b"\r\n")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


def _fields(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _classify(part: _Part, result: Plan) -> bool:
    """Put ``part`` in its role; False when it holds nothing a directory uses."""
    fields = [f.strip() for f in _fields(part.first_line)]
    names = [f.lower() for f in fields]
    if "column_headers" in PurePosixPath(part.name).name.lower():
        result.code_point_columns = _code_point_columns(part)
        return True
    if any(name in _POSTCODE for name in names):
        result.rows.append(part)
        return True
    if _name_columns(names):
        result.names.update(_read_names(part))
        return True
    if fields and _is_postcode(fields[0]):
        result.rows.append(part)  # headerless: Code-Point Open
        return True
    return False


def _is_postcode(text: str) -> bool:
    try:
        normalise(text)
    except InvalidPostcode:
        return False
    return True


def _name_columns(names: Sequence[str]) -> list[tuple[int, int]]:
    """(code column, name column) pairs: ``LAD23CD``/``LAD23NM``, or ``code``/``name``."""
    pairs = []
    for i, name in enumerate(names):
        found = _NAME_PAIR.fullmatch(name)
        if found and f"{found.group(1).lower()}nm" in names:
            pairs.append((i, names.index(f"{found.group(1).lower()}nm")))
    if not pairs and "code" in names and "name" in names:
        pairs.append((names.index("code"), names.index("name")))
    return pairs


def _read_names(part: _Part) -> dict[str, str]:
    names: dict[str, str] = {}
    with part.opener() as binary, open_table(binary, has_header=True, source=part.name) as table:
        pairs = _name_columns([n.lower() for n in table.fieldnames or ()])
        for _line, fields in table.records():
            for code_at, name_at in pairs:
                if max(code_at, name_at) < len(fields):
                    code, name = fields[code_at].strip(), fields[name_at].strip()
                    if code and name:
                        names.setdefault(code, name)
    return names


def _code_point_columns(part: _Part) -> tuple[str, ...]:
    """The long column names from Code-Point Open's column-headers file."""
    with part.opener() as binary:
        text = _text(binary.read(64 * 1024).replace(b"\r\n", b"\n").rstrip(b"\n"))
    rows = [_fields(line) for line in text.split("\n") if line.strip()]
    for row in rows:  # the long names ("Postcode"), else the short codes ("PC")
        if row and row[0].strip().lower() == "postcode":
            return tuple(c.strip() for c in row)
    for row in rows:
        if row and row[0].strip().upper() == "PC":
            return tuple(c.strip() for c in row)
    raise DataFormatError(part.name, 1, "does not name Code-Point Open's columns")


def _resolve(fieldnames: Sequence[str], source: str) -> dict[str, int]:
    """Column positions by meaning; -1 where the file has no such column."""
    names = [n.strip().lower() for n in fieldnames]
    at: dict[str, int] = {}
    postcode = next((names.index(n) for n in _POSTCODE if n in names), -1)
    if postcode < 0:
        raise DataFormatError(source, 1, f"no postcode column (looked for {', '.join(_POSTCODE)})")
    at["postcode"] = postcode
    for meaning, (exact, pattern) in _COLUMNS.items():
        found = next((names.index(n) for n in exact if n in names), -1)
        if found < 0 and pattern:
            dated = [
                (int(m.group(1)), i)
                for i, n in enumerate(names)
                if (m := re.fullmatch(pattern, n)) is not None
            ]
            found = max(dated)[1] if dated else -1
        at[meaning] = found
    if (at["latitude"] < 0 or at["longitude"] < 0) and (at["eastings"] < 0 or at["northings"] < 0):
        raise DataFormatError(
            source, 1, "no coordinates: expected lat and long, or oseast1m and osnrth1m"
        )
    return at


def _describe(first_line: str) -> str:
    names = [f.strip().lower() for f in _fields(first_line)]
    if not any(n in _POSTCODE for n in names):
        return "Code-Point Open (headerless)"
    at = _resolve(names, "")
    used = [names[at[m]] for m in ("postcode", "admin_district", "latitude") if at[m] >= 0]
    return f"ONSPD/NSPL layout ({', '.join(used)})"


def _read_rows(
    part: _Part,
    plan: Plan,
    on_error: Callable[[DataFormatError], None] | None,
    advance: Callable[[int], None],
) -> Iterator[Row]:
    headerless = not any(f.strip().lower() in _POSTCODE for f in _fields(part.first_line))
    fieldnames = (plan.code_point_columns or CODE_POINT_COLUMNS) if headerless else None
    with (
        part.opener() as raw,
        open_table(
            io.BufferedReader(_Counting(raw, advance)),
            has_header=not headerless,
            fieldnames=fieldnames,
            source=part.name,
        ) as table,
    ):
        at = _resolve(table.fieldnames or (), part.name)
        i_pc, i_lat, i_lon = at["postcode"], at["latitude"], at["longitude"]
        i_east, i_north, i_grid = at["eastings"], at["northings"], at["quality"]
        i_term = at["terminated"]
        width = max(at.values()) + 1
        code_at = [at[name] for name in CODE_FIELDS]
        codes_of: Callable[[list[str]], tuple[str, ...]]
        if min(code_at) >= 0:  # every code present: one C call per row
            codes_of = operator.itemgetter(*code_at)
        else:

            def codes_of(f: list[str]) -> tuple[str, ...]:
                return tuple([f[i] if i >= 0 else "" for i in code_at])

        pending: list[Row] = []
        convert: list[int] = []  # places in pending that need WGS84 from the grid
        for line, f in table.records():
            if len(f) < width:
                f += [""] * (width - len(f))
            try:
                postcode = normalise(f[i_pc])
                east = north = lat = lon = terminated = None
                if i_grid < 0 or f[i_grid] not in _NO_GRID:
                    if i_east >= 0 and i_north >= 0:
                        east, north = _int(f[i_east]), _int(f[i_north])
                        if not east and not north:
                            east = north = None  # Code-Point Open gives 0, 0 for "none"
                    if i_lat >= 0 and i_lon >= 0:
                        lat, lon = _e6(f[i_lat]), _e6(f[i_lon])
                        if lat is None or lon is None or lat >= 99_000_000:
                            lat = lon = None  # the ONSPD writes 99.999999 for "none"
                if i_term >= 0 and f[i_term]:
                    terminated = _yyyymm(f[i_term])
            except (InvalidPostcode, ValueError) as exc:
                error = DataFormatError(part.name, line, _why(exc))
                if on_error is None:
                    raise error from None
                on_error(error)
                continue
            if lat is None and east is not None and north is not None:
                convert.append(len(pending))
            pending.append(Row(postcode, lat, lon, east, north, terminated, codes_of(f)))
            if len(pending) >= _BATCH:
                yield from _converted(pending, convert)
                pending, convert = [], []
        yield from _converted(pending, convert)


def _converted(rows: list[Row], convert: list[int]) -> list[Row]:
    """``rows``, the ones at ``convert`` given WGS84 from their grid reference."""
    if convert:
        lats, lons = osgb_to_wgs84_many(
            [float(rows[i].eastings or 0) for i in convert],
            [float(rows[i].northings or 0) for i in convert],
        )
        for i, la, lo in zip(convert, lats.tolist(), lons.tolist(), strict=True):
            if la == la and lo == lo:  # NaN: a point the transformation cannot place
                rows[i] = rows[i]._replace(lat_e6=round(la * 1e6), lon_e6=round(lo * 1e6))
    return rows


class _Counting(io.RawIOBase):
    """Passes bytes through, reporting how many were read (for the progress bar)."""

    def __init__(self, raw: IO[bytes], advance: Callable[[int], None]) -> None:
        self._raw = raw
        self._advance = advance
        self.name = getattr(raw, "name", "")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._advance(n)
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._advance(len(data))
        return data


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        if not text.strip():
            return None
        return int(float(text))  # "551626.0"; junk raises ValueError


def _e6(text: str) -> int | None:
    """Degrees as text -> millionths of a degree."""
    try:
        return round(float(text) * 1e6)
    except ValueError:
        if not text.strip():
            return None
        raise


def _yyyymm(text: str) -> int | None:
    value = int(text) if len(text) == 6 and text.isdigit() else -1
    if not 1 <= value % 100 <= 12:
        if not text.strip():
            return None
        raise InvalidArgument(f"date {text!r} is not YYYYMM")
    return value


def _why(exc: Exception) -> str:
    if isinstance(exc, InvalidPostcode):
        return f"{exc.text!r} is not a postcode ({exc.reason})"
    return f"not a postcode row ({exc})"
