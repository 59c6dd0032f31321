"""Leeds household waste collections: ``dm_premises.csv`` and ``dm_jobs.csv``.

Leeds City Council publishes both at https://opendata.leeds.gov.uk/downloads/bins/
(Data Mill North dataset "household-waste-collections"), refreshed up to daily.

``dm_premises.csv``: ``PremisesID, SAON, PAON, street, locality, town, postcode``.
No header today (older copies had one); a NUL byte for an empty field;
Windows-1252 (older copies UCS-2/UTF-16). The list includes garages, bin stores
and parking spaces. The ID is the council's own key, not the UPRN.

``dm_jobs.csv``: ``PremisesID, BLACK|GREEN|BROWN|FOOD, DD/MM/YY``. No header
today (older copies had one). Dates are explicit, Saturdays and bank holidays
included, so never shift them. Exact duplicate rows occur and are dropped.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from .._records import Record
from ..tabular import open_table
from ._common import Memo, OnError, RowProblems, Source, normalise_postcode, text_or_none

__all__ = ["BINS", "Collection", "Premises", "format_address", "read_jobs", "read_premises"]

PREMISES_FIELDS = ("PremisesID", "SAON", "PAON", "Street", "Locality", "Town", "Postcode")
JOBS_FIELDS = ("PremisesID", "BinType", "CollectionDate")
# what each file is, for the one error when a file of another layout is given
PREMISES_LAYOUT = "a Leeds premises file (dm_premises.csv: 7 fields, the first a premises ID)"
JOBS_LAYOUT = "a Leeds bin collections file (dm_jobs.csv: premises ID, bin type, date)"

#: The bins Leeds collects, as the file writes them -> as civickit names them.
BINS = {"BLACK": "black", "GREEN": "green", "BROWN": "brown", "FOOD": "food"}

# How many premises' jobs are remembered for spotting duplicates. The file lists
# each premises' jobs together, so this only needs to span a few neighbours.
DUPLICATE_WINDOW = 1024


@dataclass(frozen=True)
class Premises(Record):
    """One row of ``dm_premises.csv``; ``address`` is a tidy one-line form."""

    id: int
    saon: str | None
    paon: str | None
    street: str | None
    locality: str | None
    town: str | None
    postcode: str | None
    address: str


@dataclass(frozen=True)
class Collection(Record):
    """One collection: premises ``premises_id`` has its ``bin`` emptied on ``date``."""

    premises_id: int
    bin: str  # "black" | "green" | "brown" | "food"
    date: date


def read_premises(
    src: Source, *, on_error: OnError = None, encoding: str | None = None
) -> Iterator[Premises]:
    """Stream the premises in a Leeds ``dm_premises.csv``.

    Postcodes are normalised (``LS5 3DH``); text that is not a postcode is kept,
    upper-cased with its spaces collapsed. Rows whose ID is not a number, or with the wrong number of
    fields, are bad rows (see ``on_error``).
    """
    with open_table(src, fieldnames=PREMISES_FIELDS, encoding=encoding) as table:
        report = RowProblems(on_error, table.source, table.delimiter, PREMISES_LAYOUT)
        for line, fields in table.records():
            if len(fields) != 7 and not (len(fields) > 7 and not "".join(fields[7:]).strip()):
                report(line, f"expected 7 fields, found {len(fields)}", fields)
                continue
            ident = fields[0].strip()
            if not ident.isdigit():
                report(line, f"premises ID {ident!r} is not a number", fields)
                continue
            if not report.settled:
                report.good()
            saon, paon, street, locality, town = (text_or_none(f) for f in fields[1:6])
            yield Premises(
                id=int(ident),
                saon=saon,
                paon=paon,
                street=street,
                locality=locality,
                town=town,
                postcode=normalise_postcode(fields[6]),
                address=format_address(saon, paon, street, locality, town),
            )
        report.flush()


def read_jobs(
    src: Source, *, on_error: OnError = None, encoding: str | None = None
) -> Iterator[Collection]:
    """Stream the collections in a Leeds ``dm_jobs.csv``, dropping exact duplicates.

    Dates are ``DD/MM/YY`` (``DD/MM/YYYY`` is accepted too). Duplicates are
    recognised within the stretch of the file holding one premises' jobs and
    its neighbours (the published file keeps each premises' jobs together),
    so memory stays flat.
    """
    parse = Memo(_job_date)
    known_days = parse.known
    bins = BINS
    recent: OrderedDict[str, set[tuple[str, date]]] = OrderedDict()
    current_id = None
    current: set[tuple[str, date]] = set()
    with open_table(src, fieldnames=JOBS_FIELDS, encoding=encoding) as table:
        report = RowProblems(on_error, table.source, table.delimiter, JOBS_LAYOUT)
        for line, fields in table.records():
            try:
                ident, kind, when = fields
            except ValueError:
                if len(fields) > 3 and not "".join(fields[3:]).strip():
                    ident, kind, when = fields[:3]
                else:
                    report(line, f"expected 3 fields, found {len(fields)}", fields)
                    continue
            if ident != current_id:
                current_id = ident
                current = recent.get(ident)  # type: ignore[assignment]
                if current is None:
                    current = recent[ident] = set()
                    if len(recent) > DUPLICATE_WINDOW:
                        recent.popitem(last=False)
            bin_ = bins.get(kind)
            if bin_ is None:
                bin_ = bins.get(kind.strip().upper())
                if bin_ is None:
                    choices = ", ".join(BINS)
                    report(line, f"bin type {kind!r} is not one of {choices}", fields)
                    continue
            try:
                day = known_days.get(when) or parse(when)
                premises_id = int(ident)
            except ValueError:
                if not ident.strip().isdigit():
                    message = f"premises ID {ident!r} is not a number"
                else:
                    message = f"collection date {when!r} is not DD/MM/YY"
                report(line, message, fields)
                continue
            if not report.settled:
                report.good()
            key = (bin_, day)
            if key in current:
                continue
            current.add(key)
            yield Collection(premises_id, bin_, day)
        report.flush()


def _job_date(text: str) -> date:
    text = text.strip()
    fmt = "%d/%m/%y" if len(text) <= 8 else "%d/%m/%Y"
    return datetime.strptime(text, fmt).date()


# -- addresses -----------------------------------------------------------------------

_SMALL_WORDS = {"of", "the", "and", "on", "in", "upon", "under", "at", "to", "by", "cum", "le"}
# a SAON ending in one of these runs on into the PAON: "Garage Site Adjacent to 32 ..."
_RUN_ON = ("TO", "OF", "ADJ", "ADJACENT", "AT", "BEHIND", "OPPOSITE", "NEAR", "FROM")
_NUMBERED = re.compile(r"\d+[A-Z]?(?:\s*-\s*\d+[A-Z]?)?", re.IGNORECASE)


def format_address(
    saon: str | None,
    paon: str | None,
    street: str | None,
    locality: str | None,
    town: str | None,
) -> str:
    """One tidy line: ``1 Abbey Avenue, Bramley, Leeds``; ``Flat 2, 10 Some Street, Leeds``.

    Words are title-cased, keeping house numbers such as ``12A`` upper-case and
    short joining words lower-case (``Barwick-in-Elmet``, ``Rear of 62``).
    """
    street_t = _title(street) if street else None
    paon_t = _title(paon) if paon else None
    if paon_t and street_t and _NUMBERED.fullmatch(paon.strip()):  # type: ignore[union-attr]
        parts = [f"{paon_t} {street_t}"]
    else:
        parts = [p for p in (paon_t, street_t) if p]
    if saon:
        flat = _title(saon)
        if parts and saon.strip().upper().endswith(_RUN_ON):
            parts[0] = f"{flat} {parts[0]}"
        else:
            parts.insert(0, flat)
    place_parts = [_title(p) for p in (locality, town) if p]
    if len(place_parts) == 2 and place_parts[0].lower() == place_parts[1].lower():
        place_parts.pop(0)
    return ", ".join(parts + place_parts)


def _title(text: str) -> str:
    words = text.split()
    return " ".join(_title_word(w, i == 0) for i, w in enumerate(words))


def _title_word(word: str, first: bool) -> str:
    if any(ch.isdigit() for ch in word):
        return word.upper()  # 12A, LS5, 1-3
    if "-" in word.strip("-"):
        pieces = word.split("-")
        return "-".join(_title_word(p, first and i == 0) for i, p in enumerate(pieces))
    lower = word.lower()
    if not first and lower in _SMALL_WORDS:
        return lower
    if "'" in lower or "’" in lower:
        quote = "'" if "'" in lower else "’"
        head, _, tail = lower.partition(quote)
        if len(tail) <= 1:  # St Mary's, Kings'
            return head.capitalize() + quote + tail
        return head.capitalize() + quote + tail.capitalize()  # O'Neill
    if lower.startswith("mc") and len(lower) > 3:
        return "Mc" + lower[2:].capitalize()
    return lower.capitalize()
