"""The local postcode directory, read: :class:`PostcodeDirectory`, and where to find one."""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import (
    DataFormatError,
    InvalidPostcode,
    NoPostcodeDirectory,
    PostcodeNotFound,
    ValidationError,
)
from . import builder
from .fileformat import _APPLICATION_ID, _FORMAT_VERSION, _key, _postcode
from .place import CODE_FIELDS, Place, _new_place, normalise

__all__ = ["DIRECTORY_ENV", "PostcodeDirectory", "default_directory", "user_directory_path"]

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


_IN_BATCH = 500  # keys per "IN (...)" query
_MMAP_BYTES = 1 << 30

# The Place fields that hold the names of an area's codes, in Place's order.
_NAMED = ("country", "region", "admin_district", "admin_ward", "lsoa", "msoa", "pfa")
_ROW = "key, latitude, longitude, eastings, northings, area, terminated"


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
        from ..geo import EARTH_RADIUS_M, distance_m

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
        era is read: see :mod:`civickit.postcodes.sources`. The rows are
        streamed, never held in memory; ``progress`` shows a bar on stderr.
        ``dest`` is replaced only once the new file is complete, so a failed
        build leaves the old directory in place, and readers that have it open
        keep reading it.

        ``on_error`` receives each row that cannot be read
        (:class:`~civickit.errors.DataFormatError` with its file and line),
        which is then skipped and counted; without it the first bad row stops
        the build.
        """
        return cls(builder.build(src, dest, progress=progress, on_error=on_error))


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


def _check_nearest(limit: int, radius_m: float) -> None:
    if not 1 <= limit <= 100:
        raise ValidationError(None, f"limit must be between 1 and 100, not {limit}")
    if not 0 < radius_m <= 2000:
        raise ValidationError(None, f"radius_m must be above 0 and at most 2000, not {radius_m}")
