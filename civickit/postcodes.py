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

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .errors import (
    InvalidPostcode,
    NotAPortalResponse,
    PostcodeNotFound,
    ValidationError,
)
from .http import HttpClient, error_for_status

__all__ = ["BULK_LIMIT", "Place", "Postcodes", "normalise"]

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


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


class Postcodes:
    """A postcodes.io client; every postcode is normalised before it is sent."""

    def __init__(
        self, *, base_url: str = "https://api.postcodes.io", http: HttpClient | None = None
    ):
        self.base_url = base_url.rstrip("/")
        self.http = http or HttpClient()

    def lookup(self, pc: str) -> Place:
        """Look up one postcode.

        Raises :class:`InvalidPostcode` for text that is not a postcode (no
        request is made) and :class:`PostcodeNotFound` for a well-formed one
        postcodes.io does not know; ``.terminated`` then holds the year, month
        and last coordinates of a retired postcode.
        """
        postcode = normalise(pc)
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

    def lookup_many(self, pcs: Iterable[str]) -> dict[str, Place | None]:
        """Look up many postcodes, ``BULK_LIMIT`` per request.

        The result is keyed by the strings exactly as given, in the order
        given; unknown postcodes and text that is not a postcode map to
        ``None`` (the latter is never sent).
        """
        given = list(pcs)
        wanted: dict[str, str | None] = {}
        for text in given:
            try:
                wanted[text] = normalise(text)
            except InvalidPostcode:
                wanted[text] = None
        unique = list(dict.fromkeys(pc for pc in wanted.values() if pc is not None))
        found: dict[str, Place | None] = {}
        for start in range(0, len(unique), BULK_LIMIT):
            batch = unique[start : start + BULK_LIMIT]
            reply = self.http.post_json(self._url("postcodes"), {"postcodes": batch})
            for item in reply.get("result") or []:
                result = item.get("result")
                if result:
                    # postcodes.io echoes each query as sent; the canonical form we sent
                    found[item.get("query") or result["postcode"]] = Place.from_api(result)
        return {text: found.get(pc) if pc else None for text, pc in wanted.items()}

    def nearest(
        self, lat: float, lon: float, *, limit: int = 10, radius_m: float = 100
    ) -> list[Place]:
        """Postcodes within ``radius_m`` (at most 2000) of a point, nearest first.

        Returns ``[]`` when none is that close.
        """
        if not 1 <= limit <= 100:
            raise ValidationError(None, f"limit must be between 1 and 100, not {limit}")
        if not 0 < radius_m <= 2000:
            raise ValidationError(
                None, f"radius_m must be above 0 and at most 2000, not {radius_m}"
            )
        params = {"lat": lat, "lon": lon, "limit": limit, "radius": radius_m}
        reply = self.http.get_json(self._url("postcodes"), params=params)
        return [Place.from_api(result) for result in reply.get("result") or []]

    def _terminated(self, postcode: str) -> dict[str, Any] | None:
        response = self.http.get(self._url("terminated_postcodes", postcode))
        if response.status_code == 404:
            return None  # never existed, rather than retired
        return _terminated(self.http.json_of(response).get("result"))

    def _url(self, *parts: str) -> str:
        return "/".join([self.base_url, *(quote(part, safe="") for part in parts)])


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
