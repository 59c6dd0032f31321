"""NHS ``Hospital.csv`` (NHS.uk, formerly media.nhschoices.nhs.uk/data/foi/Hospital.csv).

22 columns separated by ``¬`` (byte 0xAC), Windows-1252, CRLF, unquoted:
``OrganisationID¬OrganisationCode¬OrganisationType¬SubType¬Sector¬
OrganisationStatus¬IsPimsManaged¬OrganisationName¬Address1¬Address2¬Address3¬
City¬County¬Postcode¬Latitude¬Longitude¬ParentODSCode¬ParentName¬Phone¬Email¬
Website¬Fax``. Many fields are empty, names can carry trailing spaces, one copy
writes a longitude in scientific notation, and some sites appear twice under
different codes (both are kept: they are different organisations' records).
There is no A&E flag.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from .._records import Record
from ..errors import (
    DataFormatError,
    InvalidArgument,
)
from ..tabular import open_table
from ._common import OnError, RowProblems, Source, normalise_postcode, text_or_none

__all__ = ["FIELDS", "Hospital", "read_nhs"]

FIELDS = (
    "OrganisationID", "OrganisationCode", "OrganisationType", "SubType", "Sector",
    "OrganisationStatus", "IsPimsManaged", "OrganisationName", "Address1", "Address2",
    "Address3", "City", "County", "Postcode", "Latitude", "Longitude", "ParentODSCode",
    "ParentName", "Phone", "Email", "Website", "Fax",
)  # fmt: skip


LAYOUT = "an NHS Hospital.csv (22 fields separated by '¬')"


@dataclass(frozen=True)
class Hospital(Record):
    """One NHS ``Hospital.csv`` row; ``address`` joins the address lines, city and county.

    ``sector`` is the file's text (``"NHS Sector"``, ``"Independent Sector"``);
    ``parent`` is the parent organisation's name (usually the trust).
    """

    code: str
    name: str
    address: str | None
    postcode: str | None
    latitude: float | None
    longitude: float | None
    sector: str | None
    parent: str | None
    phone: str | None
    website: str | None


def read_nhs(
    src: Source, *, on_error: OnError = None, encoding: str | None = None
) -> Iterator[Hospital]:
    """Stream the hospitals in an NHS ``Hospital.csv``.

    The file is unquoted, so a ``"`` is an ordinary character. Rows with the
    wrong number of fields, no code or name, or unreadable coordinates are bad
    rows (see ``on_error``).
    """
    with open_table(src, fieldnames=FIELDS, quotechar=None, encoding=encoding) as table:
        source = table.source
        if table.delimiter != "¬":
            raise DataFormatError(
                source,
                None,
                f"this is not {LAYOUT}: its fields are separated by {table.delimiter!r}",
            )
        report = RowProblems(on_error, source, table.delimiter, LAYOUT)
        at = {name: i for i, name in enumerate(FIELDS)}
        for line, f in table.records():
            if len(f) != len(FIELDS):
                report(line, f"expected {len(FIELDS)} fields, found {len(f)}", f)
                continue
            code, name = f[at["OrganisationCode"]].strip(), f[at["OrganisationName"]].strip()
            if not code or not name:
                report(line, "the organisation code or name is empty", f)
                continue
            try:
                latitude = _coordinate(f[at["Latitude"]], 90)
                longitude = _coordinate(f[at["Longitude"]], 180)
            except ValueError as exc:
                report(line, str(exc), f)
                continue
            if not report.settled:
                report.good()
            lines = (f[at[k]] for k in ("Address1", "Address2", "Address3", "City", "County"))
            address = ", ".join(part for part in (p.strip() for p in lines) if part)
            yield Hospital(
                code=code,
                name=name,
                address=address or None,
                postcode=normalise_postcode(f[at["Postcode"]]),
                latitude=latitude,
                longitude=longitude,
                sector=text_or_none(f[at["Sector"]]),
                parent=text_or_none(f[at["ParentName"]]),
                phone=text_or_none(f[at["Phone"]]),
                website=text_or_none(f[at["Website"]]),
            )
        report.flush()


def _coordinate(text: str, limit: float) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)  # also reads -8.1896319985389709E-2
    except ValueError:
        raise InvalidArgument(f"coordinate {text!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > limit:
        raise InvalidArgument(f"coordinate {text!r} is out of range")
    return value
