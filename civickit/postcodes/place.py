"""A UK postcode: its grammar, checked offline, and the :class:`Place` every lookup returns.

:func:`normalise` checks a postcode against the real grammar (outward codes
``A9``, ``A99``, ``A9A``, ``AA9``, ``AA99``, ``AA9A`` with the letters each
position allows, inward code ``9AA``, plus ``GIR 0AA``) without touching the
network, so junk is refused before any request is made. :class:`Place` is one
postcode as postcodes.io describes it; the local directory answers with the
same record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .._fastrecords import fast_constructor
from ..errors import InvalidPostcode

__all__ = ["CODE_FIELDS", "Place", "normalise"]

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
    """``Place(postcode, ..., *names, codes=dict(zip(CODE_FIELDS, codes)))``, twice as fast.

    For the directory's hot loops, through :func:`civickit._fastrecords.fast_constructor`
    (no per-field ``__setattr__``). ``names`` are the names of the country,
    region, district, ward, LSOA, MSOA and police force area; ``codes`` the
    GSS codes in ``CODE_FIELDS`` order. A test pins the result to the plain
    constructor's.
    """
    country, region, admin_district, admin_ward, lsoa, msoa, pfa = names
    return _place(
        postcode=postcode,
        latitude=latitude,
        longitude=longitude,
        eastings=eastings,
        northings=northings,
        country=country,
        region=region,
        admin_district=admin_district,
        admin_ward=admin_ward,
        lsoa=lsoa,
        msoa=msoa,
        pfa=pfa,
        codes={
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
        },
    )


_place = fast_constructor(Place)  # Place(**fields), without its __setattr__s
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
