"""The postcode directory's file: one SQLite file, its schema, and how a postcode is keyed.

The format between the writer (:mod:`.builder`) and the reader
(:mod:`.directory`): a postcode is stored by its key, the 7-character ONS
``pcd`` form read as a base-37 number; coordinates are integers in millionths
of a degree; each row points at an ``areas`` row, the combination of GSS codes
it shares with its neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

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


_FORMAT = "civickit postcode directory"
_FORMAT_VERSION = 1
_APPLICATION_ID = 0x434B5043  # "CKPC" in the SQLite header, so the file says what it is
_RUN = 16  # postcodes per box in the R*Tree of locations
_RUN_SPAN_E6 = 10_000  # ... and at most 0.01 degrees across


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
