"""The postcodes.io client, :class:`Postcodes`: a local directory first, postcodes.io for the rest.

:class:`Postcodes` looks postcodes up on postcodes.io and tells "not shaped
like a postcode" (:class:`~civickit.errors.InvalidPostcode`) from "no such
postcode" (:class:`~civickit.errors.PostcodeNotFound`, with the retirement date
when the postcode was terminated).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import quote

from ..errors import (
    InvalidPostcode,
    NoPostcodeDirectory,
    NotAPortalResponse,
    PostcodeNotFound,
    ServiceUnavailable,
)
from ..http import HttpClient, error_for_status
from .directory import PostcodeDirectory, _check_nearest, default_directory
from .place import Place, _float_or_none, normalise

__all__ = ["BULK_LIMIT", "Postcodes"]

log = logging.getLogger(__name__)

#: postcodes.io refuses bulk lookups of more than this many postcodes.
BULK_LIMIT = 100

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
