"""TEMPORARY ADAPTER, to delete once ``civickit.datasets.bins`` lands.

A minimal reader of Leeds ``dm_premises.csv`` / ``dm_jobs.csv`` following the
DESIGN.md section 3 contract (``read_premises``, ``read_jobs``, ``on_error``),
used by the app only when the library module is missing. The library's reader
is the real one; this exists so the app could be built and tested meanwhile.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import BinaryIO

from civickit.errors import DataFormatError

BIN_TYPES = {"BLACK": "black", "GREEN": "green", "BROWN": "brown", "FOOD": "food"}


@dataclass(frozen=True)
class Premises:
    id: int
    saon: str
    paon: str
    street: str
    locality: str
    town: str
    postcode: str
    address: str


@dataclass(frozen=True)
class Collection:
    premises_id: int
    bin: str
    date: date


def _lines(src: str | BinaryIO) -> Iterator[tuple[int, list[str]]]:
    fh = open(src, "rb") if isinstance(src, str | bytes) or hasattr(src, "__fspath__") else src  # noqa: SIM115
    head = fh.read(2)
    encoding = "utf-16" if head in (codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE) else "cp1252"
    rest = io.TextIOWrapper(fh, encoding=encoding, errors="replace", newline="")
    text = head.decode(encoding, errors="replace") if encoding == "cp1252" else ""
    if encoding != "cp1252":
        rest = io.TextIOWrapper(io.BytesIO(head + fh.read()), encoding="utf-16", newline="")
    first = True
    for n, row in enumerate(csv.reader(_prepend(text, rest)), 1):
        row = [c.replace("\x00", "").strip() for c in row]
        if first and row and not row[0].isdigit():
            first = False
            continue  # an old-style header row
        first = False
        yield n, row


def _prepend(text: str, rest: io.TextIOWrapper) -> Iterator[str]:
    buffered = text + rest.readline()
    yield buffered
    yield from rest


def _title(text: str) -> str:
    return " ".join(w.capitalize() for w in text.split())


def read_premises(
    src, on_error: Callable[[DataFormatError], None] | None = None
) -> Iterator[Premises]:
    name = getattr(src, "name", str(src))
    for n, row in _lines(src):
        if not any(row):
            continue
        if len(row) != 7 or not row[0].isdigit():
            err = DataFormatError(
                str(name),
                n,
                f"expected 7 fields starting with a numeric PremisesID, got {len(row)}",
            )
            if on_error is None:
                raise err
            on_error(err)
            continue
        pid, saon, paon, street, locality, town, postcode = row
        first = ", ".join(
            p for p in (_title(saon), " ".join(x for x in (_title(paon), _title(street)) if x)) if p
        )
        address = ", ".join(p for p in (first, _title(locality), _title(town)) if p)
        yield Premises(
            int(pid),
            _title(saon),
            _title(paon),
            _title(street),
            _title(locality),
            _title(town),
            postcode.upper(),
            address,
        )


def read_jobs(
    src, on_error: Callable[[DataFormatError], None] | None = None
) -> Iterator[Collection]:
    name = getattr(src, "name", str(src))
    seen: set[tuple[int, str, date]] = set()
    for n, row in _lines(src):
        if not any(row):
            continue
        try:
            if len(row) != 3 or not row[0].isdigit():
                raise ValueError(f"expected PremisesID,BINTYPE,DD/MM/YY, got {len(row)} fields")
            bin_ = BIN_TYPES.get(row[1].upper())
            if bin_ is None:
                raise ValueError(f"unknown bin type {row[1]!r}")
            day = datetime.strptime(row[2], "%d/%m/%y").date()
        except ValueError as exc:
            err = DataFormatError(str(name), n, str(exc))
            if on_error is None:
                raise err from None
            on_error(err)
            continue
        key = (int(row[0]), bin_, day)
        if key in seen:
            continue
        seen.add(key)
        yield Collection(*key)


def format_address(saon, paon, street, locality, town) -> str:
    first = ", ".join(
        p
        for p in (
            _title(saon or ""),
            " ".join(x for x in (_title(paon or ""), _title(street or "")) if x),
        )
        if p
    )
    return ", ".join(p for p in (first, _title(locality or ""), _title(town or "")) if p)
