"""UK postcodes: offline normalisation and a postcodes.io client.

:func:`normalise` checks a postcode against the real grammar (outward codes
``A9``, ``A99``, ``A9A``, ``AA9``, ``AA99``, ``AA9A`` with the letters each
position allows, inward code ``9AA``, plus ``GIR 0AA``) without touching the
network, so junk is refused before any request is made. :class:`Postcodes`
looks postcodes up on postcodes.io and tells "not shaped like a postcode"
(:class:`~civickit.errors.InvalidPostcode`) from "no such postcode"
(:class:`~civickit.errors.PostcodeNotFound`, with the retirement date when the
postcode was terminated).
"""

from __future__ import annotations

import logging
import math
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import quote

from .errors import (
    DataFormatError,
    InvalidPostcode,
    NoPostcodeDirectory,
    NotAPortalResponse,
    PostcodeNotFound,
    ServiceUnavailable,
    ValidationError,
)
from .http import HttpClient, error_for_status

if TYPE_CHECKING:
    from ._postcode_sources import Plan, Row

__all__ = [
    "BULK_LIMIT",
    "DIRECTORY_ENV",
    "Place",
    "PostcodeDirectory",
    "Postcodes",
    "default_directory",
    "normalise",
    "user_directory_path",
]

log = logging.getLogger(__name__)

#: postcodes.io refuses bulk lookups of more than this many postcodes.
BULK_LIMIT = 100

# Letters each position may hold (BS 7666, as published by Royal Mail and the
# Government Data Standards Catalogue).
_FIRST = "ABCDEFGHIJKLMNOPRSTUWYZ"  # not Q, V, X
_SECOND = "ABCDEFGHKLMNOPQRSTUVWXY"  # not I, J, Z
_THIRD = "ABCDEFGHJKPSTUW"  # the letter in A9A
_FOURTH = "ABEHMNPRVWXY"  # the letter in AA9A
_INWARD = "ABDEFGHJLNPQRSTUWXYZ"  # not C, I, K, M, O, V

_OUTWARD = (
    f"[{_FIRST}][0-9]{{1,2}}"  # A9, A99
    f"|[{_FIRST}][0-9][{_THIRD}]"  # A9A
    f"|[{_FIRST}][{_SECOND}][0-9]{{1,2}}"  # AA9, AA99
    f"|[{_FIRST}][{_SECOND}][0-9][{_FOURTH}]"  # AA9A
)
_POSTCODE = re.compile(rf"(?:{_OUTWARD})[0-9][{_INWARD}]{{2}}|GIR0AA")
# already canonical, as the ONS files and postcodes.io write them: the common case, checked first
_CANONICAL = re.compile(rf"(?:{_OUTWARD}) [0-9][{_INWARD}]{{2}}|GIR 0AA")
_ALNUM = re.compile(r"[A-Za-z0-9]+", re.ASCII)


def normalise(text: str) -> str:
    """Return ``text`` as a canonical UK postcode (``"ls11ur"`` -> ``"LS1 1UR"``).

    Case and whitespace (anywhere) are ignored. No network is used: anything
    that does not follow the postcode grammar raises
    :class:`~civickit.errors.InvalidPostcode`, whose message shows the
    expected shape.
    """
    if not isinstance(text, str):
        raise InvalidPostcode(repr(text), "expected text")
    if _CANONICAL.fullmatch(text):
        return text
    compact = "".join(text.split())
    if not compact:
        raise InvalidPostcode(text, "it is empty")
    if not _ALNUM.fullmatch(compact):
        bad = next(ch for ch in compact if not _ALNUM.fullmatch(ch))
        raise InvalidPostcode(text, f"{bad!r} cannot appear in a postcode")
    if not 5 <= len(compact) <= 7:
        raise InvalidPostcode(text, f"a postcode has 5 to 7 letters and digits, not {len(compact)}")
    compact = compact.upper()
    if not _POSTCODE.fullmatch(compact):
        raise InvalidPostcode(text, _why_not(compact))
    return f"{compact[:-3]} {compact[-3:]}"


def _why_not(compact: str) -> str:
    inward = compact[-3:]
    if not re.fullmatch("[0-9][A-Z]{2}", inward):
        return f"the inward code {inward!r} should be a digit then two letters, e.g. 1UR"
    if not re.fullmatch(f"[0-9][{_INWARD}]{{2}}", inward):
        return f"the inward code {inward!r} uses a letter never used there (C, I, K, M, O, V)"
    return f"the outward code {compact[:-3]!r} is not a valid shape, e.g. LS1, M60, SW1A"


@dataclass(frozen=True)
class Place:
    """One postcode as postcodes.io describes it.

    ``latitude``/``longitude`` (WGS84) and ``eastings``/``northings`` (British
    National Grid) are ``None`` for the few postcodes without a grid
    reference. ``codes`` maps field names to GSS codes (``admin_district`` ->
    ``E08000035``).
    """

    postcode: str
    latitude: float | None
    longitude: float | None
    eastings: int | None
    northings: int | None
    country: str | None
    region: str | None
    admin_district: str | None
    admin_ward: str | None
    lsoa: str | None
    msoa: str | None
    pfa: str | None
    codes: dict[str, str | None] = field(default_factory=dict, hash=False)

    @classmethod
    def from_api(cls, result: dict[str, Any]) -> Place:
        """Build a Place from one postcodes.io ``result`` object."""
        return cls(
            postcode=result["postcode"],
            latitude=_float_or_none(result.get("latitude")),
            longitude=_float_or_none(result.get("longitude")),
            eastings=result.get("eastings"),
            northings=result.get("northings"),
            country=result.get("country"),
            region=result.get("region"),
            admin_district=result.get("admin_district"),
            admin_ward=result.get("admin_ward"),
            lsoa=result.get("lsoa"),
            msoa=result.get("msoa"),
            pfa=result.get("pfa"),
            codes=dict(result.get("codes") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict."""
        return {
            "postcode": self.postcode,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "eastings": self.eastings,
            "northings": self.northings,
            "country": self.country,
            "region": self.region,
            "admin_district": self.admin_district,
            "admin_ward": self.admin_ward,
            "lsoa": self.lsoa,
            "msoa": self.msoa,
            "pfa": self.pfa,
            "codes": dict(self.codes),
        }


def _new_place(
    postcode: str,
    latitude: float | None,
    longitude: float | None,
    eastings: int | None,
    northings: int | None,
    names: tuple[str | None, ...],
    codes: tuple[str | None, ...],
) -> Place:
    """``Place(postcode, ..., *names, codes=dict(zip(CODE_FIELDS, codes)))``, four times faster.

    For the directory's hot loops: a frozen dataclass sets each field through
    ``object.__setattr__``, where filling the new instance's ``__dict__``
    directly is a quarter of the cost. ``names`` are the names of the
    country, region, district, ward, LSOA, MSOA and police force area;
    ``codes`` the GSS codes in ``CODE_FIELDS`` order. A test pins the result
    to the plain constructor's.
    """
    place = _object_new(Place)
    d = place.__dict__
    d["postcode"] = postcode
    d["latitude"] = latitude
    d["longitude"] = longitude
    d["eastings"] = eastings
    d["northings"] = northings
    d["country"], d["region"], d["admin_district"], d["admin_ward"] = names[:4]
    d["lsoa"], d["msoa"], d["pfa"] = names[4:]
    d["codes"] = {
        "country": codes[0],
        "region": codes[1],
        "admin_county": codes[2],
        "admin_district": codes[3],
        "admin_ward": codes[4],
        "parish": codes[5],
        "ced": codes[6],
        "parliamentary_constituency": codes[7],
        "lsoa": codes[8],
        "msoa": codes[9],
        "pfa": codes[10],
    }
    return place


_object_new = object.__new__
#: The GSS codes a directory keeps, in the order _new_place takes them (postcodes.io's names).
CODE_FIELDS = (
    "country",
    "region",
    "admin_county",
    "admin_district",
    "admin_ward",
    "parish",
    "ced",
    "parliamentary_constituency",
    "lsoa",
    "msoa",
    "pfa",
)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


# a postcode the local directory lacks, when nothing else could be asked: say so, rather
# than that it is not in use (a sample or an old directory lacks postcodes in use)
_NOT_LOCAL_OFFLINE = "is not in the local postcode directory (looked up offline)."
_NOT_LOCAL_UNREACHABLE = (
    "is not in the local postcode directory, and postcodes.io could not be reached to look "
    "further (check your connection; the service may also be down)."
)


class Postcodes:
    """Postcode lookups: a local :class:`PostcodeDirectory` first, postcodes.io for the rest.

    ``local`` is a :class:`PostcodeDirectory` or the path of one; left out, the
    directory named by the ``CIVICKIT_POSTCODES`` environment variable is used,
    or else ``postcodes.db`` in the user's data directory when it exists (see
    :func:`default_directory`); ``local=False`` uses none. postcodes.io is
    asked only about postcodes the directory does not hold. ``offline=True``
    never touches the network, and needs a directory
    (:class:`~civickit.errors.NoPostcodeDirectory` otherwise).

    When postcodes.io cannot be reached (:class:`ServiceUnavailable`, or a
    captive portal's page), a client with a directory answers from it alone,
    as if offline, and does not try the network again for
    :attr:`RETRY_ONLINE_AFTER_S` seconds; without a directory the error is
    raised as before. Every postcode is normalised before it is sent.
    """

    #: After postcodes.io could not be reached, seconds before it is tried again.
    RETRY_ONLINE_AFTER_S = 60.0

    def __init__(
        self,
        *,
        base_url: str = "https://api.postcodes.io",
        http: HttpClient | None = None,
        local: PostcodeDirectory | str | os.PathLike[str] | Literal[False] | None = None,
        offline: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or HttpClient()
        self.local: PostcodeDirectory | None
        if local is None:
            found = default_directory()
            self.local = PostcodeDirectory(found) if found is not None else None
        elif local is False:
            self.local = None
        elif isinstance(local, PostcodeDirectory):
            self.local = local
        else:
            self.local = PostcodeDirectory(local)
        self.offline = offline
        if offline and self.local is None:
            raise NoPostcodeDirectory(None)
        self._unreachable_until = 0.0

    def lookup(self, pc: str) -> Place:
        """Look up one postcode.

        Raises :class:`InvalidPostcode` for text that is not a postcode (no
        request is made) and :class:`PostcodeNotFound` for a well-formed one
        that is not known; ``.terminated`` then holds the year, month and last
        coordinates of a retired postcode.
        """
        postcode = normalise(pc)
        if self.local is None:
            return self._lookup_online(pc, postcode)
        try:
            return self.local.lookup(postcode)
        except PostcodeNotFound as exc:
            if exc.terminated is not None:
                raise
            if self.offline:
                raise PostcodeNotFound(postcode, why=_NOT_LOCAL_OFFLINE) from None
            if not self._may_go_online():
                raise PostcodeNotFound(postcode, why=_NOT_LOCAL_UNREACHABLE) from None
        try:
            return self._lookup_online(pc, postcode)
        except (ServiceUnavailable, NotAPortalResponse) as exc:
            self._went_offline(exc)
            raise PostcodeNotFound(postcode, why=_NOT_LOCAL_UNREACHABLE) from None

    def lookup_many(self, pcs: Iterable[str]) -> dict[str, Place | None]:
        """Look up many postcodes (postcodes.io: ``BULK_LIMIT`` per request).

        The result is keyed by the strings exactly as given, in the order
        given; unknown and retired postcodes, and text that is not a postcode,
        map to ``None`` (the latter is never sent).
        """
        wanted = _normalised(pcs)
        unique = list(dict.fromkeys(pc for pc in wanted.values() if pc is not None))
        found: dict[str, Place | None] = {}
        if self.local is not None:
            found.update(self.local._lookup_known(unique))
            unique = [pc for pc in unique if pc not in found]
        if unique and self._may_go_online():
            try:
                found.update(self._lookup_many_online(unique))
            except (ServiceUnavailable, NotAPortalResponse) as exc:
                if self.local is None:
                    raise
                self._went_offline(exc)
        return {text: found.get(pc) if pc else None for text, pc in wanted.items()}

    def nearest(
        self, lat: float, lon: float, *, limit: int = 10, radius_m: float = 100
    ) -> list[Place]:
        """Postcodes in use within ``radius_m`` (at most 2000) of a point, nearest first.

        The local directory answers when it has any; postcodes.io is asked
        when it has none. Returns ``[]`` when none is that close.
        """
        _check_nearest(limit, radius_m)
        found: list[Place] = []
        if self.local is not None:
            found = self.local.nearest(lat, lon, limit=limit, radius_m=radius_m)
            if found or not self._may_go_online():
                return found
        params = {"lat": lat, "lon": lon, "limit": limit, "radius": radius_m}
        try:
            reply = self.http.get_json(self._url("postcodes"), params=params)
        except (ServiceUnavailable, NotAPortalResponse) as exc:
            if self.local is None:
                raise
            self._went_offline(exc)
            return found
        return [Place.from_api(result) for result in reply.get("result") or []]

    # -- postcodes.io ------------------------------------------------------------

    @property
    def online_now(self) -> bool:
        """Whether the next lookup may ask postcodes.io: not offline, and not within
        :attr:`RETRY_ONLINE_AFTER_S` of finding it out of reach."""
        return self._may_go_online()

    def _may_go_online(self) -> bool:
        return not self.offline and time.monotonic() >= self._unreachable_until

    def _went_offline(self, exc: Exception) -> None:
        self._unreachable_until = time.monotonic() + self.RETRY_ONLINE_AFTER_S
        log.warning(
            "postcodes.io could not be reached (%s); answering from the local postcode "
            "directory alone for the next %.0f s",
            exc,
            self.RETRY_ONLINE_AFTER_S,
        )

    def _lookup_online(self, pc: str, postcode: str) -> Place:
        response = self.http.get(self._url("postcodes", postcode))
        if response.status_code == 404:
            message = _error_message(response)
            if message.lower().startswith("invalid postcode"):
                raise InvalidPostcode(pc, "postcodes.io does not accept it")
            if message.lower().startswith("postcode not found"):
                terminated = _terminated(_body(response).get("terminated"))
                if terminated is None:
                    terminated = self._terminated(postcode)
                raise PostcodeNotFound(postcode, terminated)
            raise error_for_status(response, message or None)
        return Place.from_api(self.http.json_of(response)["result"])

    def _lookup_many_online(self, unique: list[str]) -> dict[str, Place]:
        found: dict[str, Place] = {}
        for start in range(0, len(unique), BULK_LIMIT):
            batch = unique[start : start + BULK_LIMIT]
            reply = self.http.post_json(self._url("postcodes"), {"postcodes": batch})
            for item in reply.get("result") or []:
                result = item.get("result")
                if result:
                    # postcodes.io echoes each query as sent; the canonical form we sent
                    found[item.get("query") or result["postcode"]] = Place.from_api(result)
        return found

    def _terminated(self, postcode: str) -> dict[str, Any] | None:
        response = self.http.get(self._url("terminated_postcodes", postcode))
        if response.status_code == 404:
            return None  # never existed, rather than retired
        return _terminated(self.http.json_of(response).get("result"))

    def _url(self, *parts: str) -> str:
        return "/".join([self.base_url, *(quote(part, safe="") for part in parts)])


def _normalised(pcs: Iterable[str]) -> dict[str, str | None]:
    """Each given string -> its canonical postcode, or None for text that is not one."""
    wanted: dict[str, str | None] = {}
    for text in pcs:
        try:
            wanted[text] = normalise(text)
        except InvalidPostcode:
            wanted[text] = None
    return wanted


def _check_nearest(limit: int, radius_m: float) -> None:
    if not 1 <= limit <= 100:
        raise ValidationError(None, f"limit must be between 1 and 100, not {limit}")
    if not 0 < radius_m <= 2000:
        raise ValidationError(None, f"radius_m must be above 0 and at most 2000, not {radius_m}")


def _body(response: Any) -> dict[str, Any]:
    try:
        body = HttpClient.decode_json(response)
    except NotAPortalResponse:
        return {}
    return body if isinstance(body, dict) else {}


def _error_message(response: Any) -> str:
    error = _body(response).get("error")
    return error if isinstance(error, str) else ""


def _terminated(info: Any) -> dict[str, Any] | None:
    """Map postcodes.io's termination record to the keys PostcodeNotFound documents."""
    if not isinstance(info, dict):
        return None
    return {
        "postcode": info.get("postcode"),
        "year": info.get("year_terminated"),
        "month": info.get("month_terminated"),
        "latitude": _float_or_none(info.get("latitude")),
        "longitude": _float_or_none(info.get("longitude")),
    }


# -- the local directory -----------------------------------------------------------------

#: Environment variable naming the local postcode directory (empty: use none).
DIRECTORY_ENV = "CIVICKIT_POSTCODES"


def user_directory_path() -> Path:
    """Where ``civickit postcodes fetch`` puts the directory: the user's data folder.

    ``~/.local/share/civickit/postcodes.db`` on Linux; the platform's own
    place elsewhere (platformdirs).
    """
    import platformdirs

    return platformdirs.user_data_path("civickit", appauthor=False) / "postcodes.db"


def default_directory() -> Path | None:
    """The directory ``Postcodes()`` uses when not told: ``$CIVICKIT_POSTCODES``, else the user's.

    ``CIVICKIT_POSTCODES`` set to an empty string means "none". The user's
    directory (:func:`user_directory_path`) counts only when it exists.
    """
    named = os.environ.get(DIRECTORY_ENV)
    if named is not None:
        return Path(named).expanduser() if named.strip() else None
    path = user_directory_path()
    return path if path.is_file() else None


# A postcode's key is its 7-character ONS "pcd" form (outward code padded to four
# characters, then the inward code) read as a base-37 number: compact, and in the
# order the ONS files list postcodes, so a build appends rows in key order.
_KEY_DIGITS = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_KEY_BYTES = bytes.maketrans(_KEY_DIGITS.encode(), bytes(range(37)))


def _key(postcode: str) -> int:
    """The key of a canonical postcode (``"LS1 1UR"``)."""
    a, b, c, d, e, f, g = f"{postcode[:-4]:<4}{postcode[-3:]}".encode().translate(_KEY_BYTES)
    return (((((a * 37 + b) * 37 + c) * 37 + d) * 37 + e) * 37 + f) * 37 + g


def _postcode(key: int) -> str:
    """The canonical postcode of a key."""
    outward, inward = divmod(key, 37**3)
    return f"{_decode(outward, 4).rstrip()} {_decode(inward, 3)}"


@lru_cache(maxsize=8192)  # a few thousand outward and inward codes are ever used
def _decode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 37)
        chars.append(_KEY_DIGITS[digit])
    return "".join(reversed(chars))


def _sql_postcode(column: str) -> str:
    """SQL that turns a key column back into the postcode (for the ``places`` view)."""
    chars = [
        f"substr('{_KEY_DIGITS}', {column} / {37**power} % 37 + 1, 1)" for power in range(6, -1, -1)
    ]
    return f"rtrim({' || '.join(chars[:4])}) || ' ' || {' || '.join(chars[4:])}"


#: Names of the codes every ONSPD, NSPL and Code-Point Open row can carry that do not
#: change between releases (ONS Register of Geographic Codes).
BUILTIN_NAMES = {
    "E92000001": "England",
    "W92000004": "Wales",
    "S92000003": "Scotland",
    "N92000002": "Northern Ireland",
    "L93000001": "Channel Islands",
    "M83000003": "Isle of Man",
    "E12000001": "North East",
    "E12000002": "North West",
    "E12000003": "Yorkshire and The Humber",
    "E12000004": "East Midlands",
    "E12000005": "West Midlands",
    "E12000006": "East of England",
    "E12000007": "London",
    "E12000008": "South East",
    "E12000009": "South West",
}
_PSEUDO = re.compile(r"[A-Z]99999999")

_FORMAT = "civickit postcode directory"
_FORMAT_VERSION = 1
_APPLICATION_ID = 0x434B5043  # "CKPC" in the SQLite header, so the file says what it is
_RUN = 16  # postcodes per box in the R*Tree of locations
_RUN_SPAN_E6 = 10_000  # ... and at most 0.01 degrees across
_IN_BATCH = 500  # keys per "IN (...)" query
_MMAP_BYTES = 1 << 30

# The Place fields that hold the names of an area's codes, in Place's order.
_NAMED = ("country", "region", "admin_district", "admin_ward", "lsoa", "msoa", "pfa")
_ROW = "key, latitude, longitude, eastings, northings, area, terminated"


def _schema(fields: Sequence[str]) -> str:
    columns = ",\n  ".join(f"{name} INTEGER" for name in fields)
    lookups = ",\n  ".join(
        f"(SELECT code FROM codes WHERE id = a.{name}) AS {name}" for name in fields
    )
    return f"""
PRAGMA application_id = {_APPLICATION_ID};
PRAGMA user_version = {_FORMAT_VERSION};
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- every GSS code once, with its name where the source gave one
CREATE TABLE codes (id INTEGER PRIMARY KEY, code TEXT NOT NULL, name TEXT);
-- each combination of codes that postcodes share (codes.id, NULL for none)
CREATE TABLE areas (
  id INTEGER PRIMARY KEY,
  {columns}
);
-- key: the postcode's 7-character ONS form read in base 37 (see the places view);
-- latitude and longitude in millionths of a degree; terminated: YYYYMM, NULL if in use
CREATE TABLE postcodes (
  key INTEGER PRIMARY KEY,
  latitude INTEGER,
  longitude INTEGER,
  eastings INTEGER,
  northings INTEGER,
  area INTEGER NOT NULL,
  terminated INTEGER
);
-- boxes around runs of consecutive postcodes in use, for nearest()
CREATE VIRTUAL TABLE locations USING rtree_i32(
  id, min_lat, max_lat, min_lon, max_lon, +first INTEGER, +last INTEGER
);
CREATE VIEW places AS SELECT
  {_sql_postcode("p.key")} AS postcode,
  p.latitude / 1e6 AS latitude,
  p.longitude / 1e6 AS longitude,
  p.eastings,
  p.northings,
  p.terminated,
  {lookups}
FROM postcodes AS p JOIN areas AS a ON a.id = p.area;
"""


class PostcodeDirectory:
    """A local, read-only postcode directory: one SQLite file built from the ONS files.

    Answers like :class:`Postcodes` without a network: :meth:`lookup` returns a
    :class:`Place` or raises :class:`~civickit.errors.InvalidPostcode` /
    :class:`~civickit.errors.PostcodeNotFound` (with ``.terminated`` for a
    retired postcode), :meth:`lookup_many` maps each given string to a Place
    or ``None``, and :meth:`nearest` finds postcodes in use around a point.
    Make one with :meth:`build`. Safe to share between threads and across
    ``fork``.

    ``info`` holds what the file was built from: ``source``, ``release``,
    ``layout``, ``built``, the counts ``rows``, ``in_use``, ``retired``,
    ``without_location``, ``duplicates`` and ``skipped``, and ``ignored`` (the
    archive members not read).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise NoPostcodeDirectory(str(self.path))
        self._uri = self.path.resolve().as_uri() + "?mode=ro&immutable=1"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        self._tables: _Tables | None = None
        try:
            db = self._db()
            app_id, version = (
                db.execute("PRAGMA application_id").fetchone()[0],
                db.execute("PRAGMA user_version").fetchone()[0],
            )
            if app_id != _APPLICATION_ID:
                raise DataFormatError(
                    str(self.path),
                    None,
                    "not a civickit postcode directory; build one with `civickit postcodes build`",
                )
            if version > _FORMAT_VERSION:
                raise DataFormatError(
                    str(self.path),
                    None,
                    f"written by a newer civickit (format {version}); upgrade civickit",
                )
            self.info: dict[str, str] = dict(db.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            self.close()
            raise DataFormatError(
                str(self.path), None, f"not a civickit postcode directory ({exc})"
            ) from None
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"<PostcodeDirectory {str(self.path)!r}: {len(self):,} postcodes>"

    def __len__(self) -> int:
        """Postcodes in the directory, retired ones included."""
        return int(self.info.get("rows", 0))

    def __contains__(self, pc: object) -> bool:
        """Whether the directory holds ``pc`` (in use or retired)."""
        try:
            postcode = normalise(pc)  # type: ignore[arg-type]
        except InvalidPostcode:
            return False
        row = self._db().execute("SELECT 1 FROM postcodes WHERE key = ?", (_key(postcode),))
        return row.fetchone() is not None

    def __enter__(self) -> PostcodeDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close this process's connections to the file."""
        with self._lock:
            mine = [db for pid, db in self._connections if pid == os.getpid()]
            self._connections = []
        for db in mine:
            db.close()
        self._local = threading.local()

    # -- queries -----------------------------------------------------------------

    def lookup(self, pc: str) -> Place:
        """The Place for one postcode.

        Raises :class:`InvalidPostcode` for text that is not a postcode, and
        :class:`PostcodeNotFound` for one the directory does not hold, or holds
        as retired (``.terminated`` then says when, and where it was).
        """
        postcode = normalise(pc)
        row = self._db().execute(f"SELECT {_ROW} FROM postcodes WHERE key = ?", (_key(postcode),))
        found = row.fetchone()
        if found is None:
            raise PostcodeNotFound(postcode)
        if found[6] is not None:
            raise PostcodeNotFound(postcode, _retired(postcode, found))
        return self._place(postcode, found)

    def lookup_many(self, pcs: Iterable[str]) -> dict[str, Place | None]:
        """Look up many postcodes at once.

        Keyed by the strings exactly as given, in the order given; postcodes
        the directory does not hold, retired ones and text that is not a
        postcode map to ``None``.
        """
        # one pass over the input: each string's slot in the answer, and for each
        # postcode the first string that named it (later spellings copy its answer)
        found: dict[str, Place | None] = {}
        first: dict[int, tuple[str, str]] = {}
        again: list[tuple[str, str]] = []
        key_of, check = _key, normalise
        for text in pcs:
            found[text] = None
            try:
                pc = check(text)
            except InvalidPostcode:
                continue
            key = key_of(pc)
            named = first.get(key)
            if named is None:
                first[key] = (text, pc)
            elif named[0] != text:
                again.append((text, named[0]))
        tables = self._tables or self._load()
        codes, names, new_place = tables.codes, tables.names, _new_place
        for key, lat, lon, east, north, area, terminated in self._rows(first):
            if terminated is None:
                text, pc = first[key]
                found[text] = new_place(
                    pc,
                    None if lat is None else lat / 1e6,
                    None if lon is None else lon / 1e6,
                    east,
                    north,
                    names[area],
                    codes[area],
                )
        for text, named_first in again:
            found[text] = found[named_first]
        return found

    def nearest(
        self, lat: float, lon: float, *, limit: int = 10, radius_m: float = 100
    ) -> list[Place]:
        """Postcodes in use within ``radius_m`` of a point, nearest first (at most ``limit``).

        The same limits as :meth:`Postcodes.nearest` (``limit`` 1-100,
        ``radius_m`` up to 2000), so either answers the same calls. Distances
        are :func:`civickit.geo.distance_m`; equal distances keep postcode
        order. Returns ``[]`` when none is that close.
        """
        from .geo import EARTH_RADIUS_M, distance_m

        _check_nearest(limit, radius_m)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValidationError(None, f"({lat}, {lon}) is not a latitude and longitude")
        reach = radius_m / EARTH_RADIUS_M  # radians
        dlat = math.degrees(reach)
        cos_lat = math.cos(math.radians(lat))
        ratio = math.sin(reach) / cos_lat if cos_lat > 1e-9 else 2.0
        dlon = math.degrees(math.asin(ratio)) if ratio < 1 else 180.0
        # the circle's bounding box in millionths of a degree, widened by a unit each way
        box = (
            math.floor((lat - dlat) * 1e6) - 1,
            math.ceil((lat + dlat) * 1e6) + 1,
            math.floor((lon - dlon) * 1e6) - 1,
            math.ceil((lon + dlon) * 1e6) + 1,
        )
        rows = (
            self._db()
            .execute(
                f"""SELECT {", ".join("p." + c for c in _ROW.split(", "))}
                FROM locations AS r CROSS JOIN postcodes AS p
                WHERE r.max_lat >= :lat0 AND r.min_lat <= :lat1
                  AND r.max_lon >= :lon0 AND r.min_lon <= :lon1
                  AND p.key BETWEEN r.first AND r.last
                  AND p.terminated IS NULL
                  AND p.latitude BETWEEN :lat0 AND :lat1
                  AND p.longitude BETWEEN :lon0 AND :lon1""",
                dict(zip(("lat0", "lat1", "lon0", "lon1"), box, strict=True)),
            )
            .fetchall()
        )
        hits = []
        for row in rows:
            d = distance_m(lat, lon, row[1] / 1e6, row[2] / 1e6)
            if d <= radius_m:
                hits.append((d, row[0], row))
        hits.sort()
        return [self._place(_postcode(key), row) for _, key, row in hits[:limit]]

    def _lookup_known(self, postcodes: Iterable[str]) -> dict[str, Place | None]:
        """The postcodes the directory holds: a Place if in use, None if retired."""
        keyed = {_key(pc): pc for pc in postcodes}
        found: dict[str, Place | None] = {}
        for row in self._rows(keyed):
            pc = keyed[row[0]]
            found[pc] = self._place(pc, row) if row[6] is None else None
        return found

    def _rows(self, keys: Iterable[int]) -> Iterator[tuple[Any, ...]]:
        """The rows of these keys, in key order, in batches (neighbouring keys share pages)."""
        ordered = sorted(keys)
        db = self._db()
        for start in range(0, len(ordered), _IN_BATCH):
            batch = ordered[start : start + _IN_BATCH]
            marks = ",".join("?" * len(batch))
            yield from db.execute(f"SELECT {_ROW} FROM postcodes WHERE key IN ({marks})", batch)

    # -- plumbing ----------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (a new one after ``fork``: SQLite's rule)."""
        local = self._local
        db: sqlite3.Connection | None = getattr(local, "db", None)
        if db is None or local.pid != os.getpid():
            db = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
            db.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
            local.db, local.pid = db, os.getpid()
            with self._lock:
                self._connections.append((os.getpid(), db))
        return db

    def _place(self, postcode: str, row: tuple[Any, ...]) -> Place:
        """The Place for a row of the postcodes table."""
        _, lat, lon, east, north, area, _ = row
        tables = self._tables or self._load()
        return _new_place(
            postcode,
            lat / 1e6 if lat is not None else None,
            lon / 1e6 if lon is not None else None,
            east,
            north,
            tables.names[area],
            tables.codes[area],
        )

    def _load(self) -> _Tables:
        """The codes and areas, read once: a few megabytes even for the whole UK."""
        with self._lock:
            if self._tables is None:
                db = self._db()
                fields = tuple(r[1] for r in db.execute("PRAGMA table_info(areas)"))[1:]
                if fields != CODE_FIELDS:
                    raise DataFormatError(str(self.path), None, f"damaged: areas hold {fields}")
                named = [fields.index(f) for f in _NAMED]
                code: dict[int | None, str | None] = {None: None}
                name: dict[int | None, str | None] = {None: None}
                for i, c, n in db.execute("SELECT id, code, name FROM codes"):
                    code[i], name[i] = c, n
                codes: list[tuple[str | None, ...]] = [()]
                names: list[tuple[str | None, ...]] = [()]
                for row in db.execute("SELECT * FROM areas ORDER BY id"):
                    if row[0] != len(codes):
                        raise DataFormatError(str(self.path), None, "damaged: areas out of order")
                    ids = row[1:]
                    codes.append(tuple([code[i] for i in ids]))
                    names.append(tuple([name[ids[at]] for at in named]))
                self._tables = _Tables(codes, names)
            return self._tables

    # -- building ----------------------------------------------------------------

    @classmethod
    def build(
        cls,
        src: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        dest: str | os.PathLike[str],
        *,
        progress: bool = False,
        on_error: Callable[[DataFormatError], None] | None = None,
    ) -> PostcodeDirectory:
        """Build a directory at ``dest`` from the ONSPD, NSPL or Code-Point Open.

        ``src`` is the published zip, the CSV inside it, or several files (the
        CSV files of Code-Point Open; a names lookup beside a CSV). Any header
        era is read: see :mod:`civickit._postcode_sources`. The rows are
        streamed, never held in memory; ``progress`` shows a bar on stderr.
        ``dest`` is replaced only once the new file is complete, so a failed
        build leaves the old directory in place, and readers that have it open
        keep reading it.

        ``on_error`` receives each row that cannot be read
        (:class:`~civickit.errors.DataFormatError` with its file and line),
        which is then skipped and counted; without it the first bad row stops
        the build.
        """
        from . import _postcode_sources as sources

        srcs = [src] if isinstance(src, str | os.PathLike) else list(src)
        plan = sources.plan(srcs)
        dest = Path(dest).expanduser()
        _check_replaceable(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _write(tmp, plan, progress=progress, on_error=on_error)
            tmp.chmod(0o644)  # a data file anyone may read, not mkstemp's private 0600
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return cls(dest)


class _Tables(NamedTuple):
    """The areas, by id: their codes (in CODE_FIELDS order) and the names a Place shows."""

    codes: list[tuple[str | None, ...]]
    names: list[tuple[str | None, ...]]  # country, region, ... pfa: as _NAMED


def _retired(postcode: str, row: tuple[Any, ...]) -> dict[str, Any]:
    """A retired row as PostcodeNotFound.terminated, in postcodes.io's keys."""
    _, lat, lon, *_, terminated = row
    return {
        "postcode": postcode,
        "year": terminated // 100,
        "month": terminated % 100,
        "latitude": lat / 1e6 if lat is not None else None,
        "longitude": lon / 1e6 if lon is not None else None,
    }


def _write(
    path: Path,
    plan: Plan,
    *,
    progress: bool,
    on_error: Callable[[DataFormatError], None] | None,
) -> None:
    """Write a whole directory into ``path`` (a new, empty file)."""
    from .http import _progress

    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        try:
            db.executescript(_schema(CODE_FIELDS))
        except sqlite3.OperationalError as exc:
            if "rtree" not in str(exc):
                raise
            raise DataFormatError(
                str(path),
                None,
                "this Python's SQLite has no R*Tree module, which the directory needs; "
                "use a Python whose SQLite has it (python.org's and Linux builds do)",
            ) from None
        table = _Rows()

        def skip(error: DataFormatError) -> None:
            table.skipped += 1
            if on_error is not None:
                on_error(error)

        db.execute("BEGIN")
        with _progress(progress, plan.total_bytes, "postcodes") as advance:
            rows = plan.read(on_error=skip if on_error else None, advance=advance)
            inserted = db.executemany(
                "INSERT OR IGNORE INTO postcodes VALUES (?, ?, ?, ?, ?, ?, ?)", table.records(rows)
            ).rowcount
        names = {**BUILTIN_NAMES, **plan.names}
        db.executemany(
            "INSERT INTO codes VALUES (?, ?, ?)",
            (
                (i, code, None if _PSEUDO.fullmatch(code) else names.get(code))
                for code, i in table.codes.items()
            ),
        )
        db.executemany(
            f"INSERT INTO areas VALUES ({', '.join('?' * (len(CODE_FIELDS) + 1))})",
            ((i, *(table.codes.get(code) for code in combo)) for combo, i in table.areas.items()),
        )
        _write_locations(db)
        in_use = db.execute("SELECT count(*) FROM postcodes WHERE terminated IS NULL").fetchone()
        db.executemany("INSERT INTO meta VALUES (?, ?)", table.meta(plan, inserted, in_use[0]))
        db.execute("COMMIT")
        if not table.in_order:
            db.execute("VACUUM")  # rows arrived out of order: pack the half-empty pages
    finally:
        db.close()
    with path.open("rb+") as f:
        os.fsync(f.fileno())


class _Rows:
    """Turns read rows into table rows, numbering codes and areas and counting as it goes."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}  # code -> id; "" (none) is never given one
        self.areas: dict[tuple[str, ...], int] = {}  # codes, in CODE_FIELDS order -> id
        self._same: dict[str, str] = {}
        self.rows = self.retired = self.without_location = self.skipped = 0
        self.in_order = True

    def records(self, rows: Iterable[Row]) -> Iterator[tuple[Any, ...]]:
        areas = self.areas
        key_of = _key
        last = -1
        for postcode, lat, lon, east, north, terminated, codes in rows:
            area = areas.get(codes)
            if area is None:
                area = self._new_area(codes)
            key = key_of(postcode)
            if key < last:
                self.in_order = False
            last = key
            self.rows += 1
            if terminated is not None:
                self.retired += 1
            if lat is None:
                self.without_location += 1
            yield key, lat, lon, east, north, area, terminated

    def _new_area(self, codes: tuple[str, ...]) -> int:
        # keyed by each code's first string object, so the areas share their strings
        same = self._same
        shared = []
        for code in codes:
            first = same.get(code)
            if first is None:
                first = same[code] = code
                if code:
                    self.codes[code] = len(self.codes) + 1
            shared.append(first)
        area = self.areas[tuple(shared)] = len(self.areas) + 1
        return area

    def meta(self, plan: Plan, inserted: int, in_use: int) -> list[tuple[str, str]]:
        return [
            ("format", _FORMAT),
            ("version", str(_FORMAT_VERSION)),
            ("built", datetime.now(UTC).isoformat(timespec="seconds")),
            ("source", ", ".join(plan.sources)),
            ("release", plan.release),
            ("layout", plan.layouts()),
            ("rows", str(inserted)),
            ("in_use", str(in_use)),
            ("retired", str(self.retired)),
            ("without_location", str(self.without_location)),
            ("duplicates", str(self.rows - inserted)),
            ("skipped", str(self.skipped)),
            ("ignored", ", ".join(plan.ignored)),
        ]


def _write_locations(db: sqlite3.Connection) -> None:
    """Boxes around runs of consecutive located postcodes in use, into the R*Tree.

    A run ends after ``_RUN`` postcodes, at the end of a postcode sector, or
    before it would span more than ``_RUN_SPAN_E6``: consecutive postcodes in a
    sector are neighbours on the ground, so the boxes stay small.
    """
    boxes: list[tuple[int, int, int, int, int, int]] = []
    run: list[tuple[int, int, int]] = []
    insert = (
        "INSERT INTO locations (min_lat, max_lat, min_lon, max_lon, first, last) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    )

    def close_run() -> None:
        lats = [r[1] for r in run]
        lons = [r[2] for r in run]
        boxes.append((min(lats), max(lats), min(lons), max(lons), run[0][0], run[-1][0]))
        run.clear()
        if len(boxes) >= 10_000:
            writer.executemany(insert, boxes)
            boxes.clear()

    writer = db.cursor()  # the read below stays open while boxes are written
    rows = db.execute(
        "SELECT key, latitude, longitude FROM postcodes "
        "WHERE terminated IS NULL AND latitude IS NOT NULL ORDER BY key"
    )
    lat0 = lat1 = lon0 = lon1 = 0
    for key, lat, lon in rows:
        if run:
            lat0, lat1 = min(lat0, lat), max(lat1, lat)
            lon0, lon1 = min(lon0, lon), max(lon1, lon)
            if (
                len(run) >= _RUN
                or key // 1369 != run[0][0] // 1369  # another sector (37**2: the last two letters)
                or lat1 - lat0 > _RUN_SPAN_E6
                or lon1 - lon0 > _RUN_SPAN_E6
            ):
                close_run()
        if not run:
            lat0 = lat1 = lat
            lon0 = lon1 = lon
        run.append((key, lat, lon))
    if run:
        close_run()
    writer.executemany(insert, boxes)


# -- the latest ONSPD ------------------------------------------------------------------
# The ONS Open Geography Portal (geoportal.statistics.gov.uk) is an ArcGIS Hub site: its
# files are ArcGIS Online items, found with ArcGIS Online's search API and downloaded
# from each item's /data address. These three lines are the one place that says where
# the ONSPD is; a portal client for ArcGIS Hub sites can replace them.
ARCGIS_SEARCH_URL = "https://www.arcgis.com/sharing/rest/search"
ARCGIS_ITEM_DATA_URL = "https://www.arcgis.com/sharing/rest/content/items/{id}/data"
ONSPD_QUERY = 'title:"ONS Postcode Directory" AND owner:ONSGeography_data'

_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_TITLE_DATE = re.compile(rf"\b({'|'.join(_MONTHS)})\s+(\d{{4}})\b", re.I)


@dataclass(frozen=True)
class OnspdRelease:
    """One ONSPD release on the ONS Open Geography Portal: an ArcGIS Online item."""

    id: str
    title: str
    name: str
    url: str
    modified: datetime | None


def latest_onspd(*, http: HttpClient | None = None) -> OnspdRelease:
    """Find the newest ONS Postcode Directory zip on the ONS Open Geography Portal.

    Asks ArcGIS Online's search API for the ONS's items titled "ONS Postcode
    Directory", keeps the zip files, and picks the newest release by the month
    and year in the title (by the item's modification date when the title has
    none). Raises :class:`~civickit.errors.NotFound` when there is none.
    """
    from .errors import NotFound

    http = http or HttpClient()
    params = {
        "q": ONSPD_QUERY,
        "f": "json",
        "num": 100,
        "sortField": "modified",
        "sortOrder": "desc",
    }
    reply = http.get_json(ARCGIS_SEARCH_URL, params=params)
    releases = []
    for item in reply.get("results") or [] if isinstance(reply, dict) else []:
        title, name = str(item.get("title") or ""), str(item.get("name") or "")
        if "postcode directory" not in title.lower() or not name.lower().endswith(".zip"):
            continue  # a map service, a user guide, another product
        modified = item.get("modified")
        when = datetime.fromtimestamp(modified / 1000, UTC) if isinstance(modified, int) else None
        dated = _TITLE_DATE.search(title)
        order = (
            (int(dated.group(2)), _MONTHS[dated.group(1).lower()])
            if dated
            else ((when.year, when.month) if when else (0, 0))
        )
        item_id = str(item["id"])
        release = OnspdRelease(item_id, title, name, ARCGIS_ITEM_DATA_URL.format(id=item_id), when)
        releases.append((order, when or datetime.min.replace(tzinfo=UTC), release))
    if not releases:
        raise NotFound(
            None,
            "no ONS Postcode Directory zip was found on the ONS Open Geography Portal; "
            "download it from geoportal.statistics.gov.uk and run `civickit postcodes build FILE`",
            ARCGIS_SEARCH_URL,
        )
    return max(releases, key=lambda r: (r[0], r[1]))[2]


def _check_replaceable(dest: Path) -> None:
    """A build replaces ``dest`` only if it is missing, empty, or an SQLite file (a directory
    built before): never a folder, and never some other file given by mistake."""
    if dest.is_dir():
        raise DataFormatError(
            str(dest), None, "is a folder; give a file name for the postcode directory"
        )
    if dest.is_file() and dest.stat().st_size:
        with dest.open("rb") as f:
            header = f.read(16)
        if header != b"SQLite format 3\x00":
            raise DataFormatError(
                str(dest),
                None,
                "exists and is not a postcode directory; give a new file name "
                "(a build never writes over another file)",
            )
