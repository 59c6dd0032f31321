"""Every error civickit raises, so callers can catch one base class.

    CivicKitError
     ├── APIError(status, message, url)        a remote service said no
     │    ├── NotFound                          404, or CKAN "Not Found Error"
     │    ├── NotAuthorized                     401/403, or CKAN "Authorization Error"
     │    ├── ValidationError                   400/409/422: the request itself is wrong
     │    ├── RateLimited                       429: slow down (.retry_after seconds)
     │    ├── ServiceUnavailable                5xx, timeouts, refused connections
     │    └── NotAPortalResponse                an HTML page or empty body where JSON was due
     ├── UnknownPortal            (ValueError)  a name not registered, or a URL no probe recognised
     ├── InvalidPostcode          (ValueError)  not shaped like a UK postcode; never sent anywhere
     ├── PostcodeNotFound                       well-formed but unknown (.terminated when retired)
     ├── NoPostcodeDirectory                    no local postcode directory where one is needed
     ├── CacheUnavailable         (ValueError)  an HTTP cache that cannot be used (unreachable, not SQLite)
     ├── InvalidPhoneNumber       (ValueError)  not a number we can text (.reason says why)
     ├── DataFormatError(source, line, message) a row or file that does not match its layout
     ├── SMSError(code, permanent)              the SMS provider refused or may not have sent
     ├── InvalidArgument          (ValueError)  an argument that cannot work (a negative radius...)
     └── InvalidArgumentType      (TypeError)   an argument of the wrong type (a datetime for a date...)

Each message says what happened and what the caller can do about it.
"""

from __future__ import annotations

from typing import cast

__all__ = [
    "APIError",
    "CacheUnavailable",
    "CivicKitError",
    "DataFormatError",
    "InvalidArgument",
    "InvalidArgumentType",
    "InvalidPhoneNumber",
    "InvalidPostcode",
    "NoPostcodeDirectory",
    "NotAPortalResponse",
    "NotAuthorized",
    "NotFound",
    "PostcodeNotFound",
    "RateLimited",
    "SMSError",
    "ServiceUnavailable",
    "UnknownPortal",
    "ValidationError",
]


class CivicKitError(Exception):
    """Base class of every error civickit raises."""


class APIError(CivicKitError):
    """A remote service answered with an error, or could not be reached.

    ``status`` is the HTTP status (``None`` when no response arrived), ``url``
    the address asked for, ``message`` a sentence for a human.
    """

    hint = "Check the request, or try again later."

    def __init__(self, status: int | None, message: str, url: str | None = None) -> None:
        self.status = status
        self.message = message
        self.url = url
        super().__init__(status, message, url)

    def __str__(self) -> str:
        where = f" ({self.url})" if self.url else ""
        code = f"HTTP {self.status}: " if self.status else ""
        return f"{code}{self.message}{where}. {self.hint}"


class NotFound(APIError):
    hint = "Check the name or id; it may have been renamed or deleted."


class NotAuthorized(APIError):
    hint = "Pass a valid API token, or check that the item is public."


class ValidationError(APIError):
    """The service rejected the request's parameters; ``errors`` maps field to messages.

    The messages are as the service sent them (text, or lists of text), so
    ``errors`` is typed ``dict[str, object]``: check a value before use.
    """

    hint = "Fix the parameters named above; retrying the same request will not help."

    def __init__(
        self,
        status: int | None,
        message: str,
        url: str | None = None,
        errors: dict[str, object] | None = None,
    ) -> None:
        super().__init__(status, message, url)
        self.errors: dict[str, object] = errors or {}


class RateLimited(APIError):
    """Too many requests; ``retry_after`` is the server's suggested wait in seconds, if any."""

    hint = "Slow down, or wait and try again."

    def __init__(
        self,
        status: int | None,
        message: str,
        url: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, message, url)
        self.retry_after = retry_after


class ServiceUnavailable(APIError):
    """5xx, a timeout, or no connection at all (``unreachable``: the host could not be reached,
    which is as often the caller's own network as the service)."""

    hint = "The service is down, slow or unreachable; try again later."

    def __init__(
        self, status: int | None, message: str, url: str | None = None, *, unreachable: bool = False
    ) -> None:
        super().__init__(status, message, url)
        self.unreachable = unreachable

    def __str__(self) -> str:
        if not self.unreachable:
            return super().__str__()
        from urllib.parse import urlsplit

        host = (urlsplit(self.url).netloc if self.url else "") or "the service"
        return f"could not reach host {host} (check your connection; the service may also be down)."


class NotAPortalResponse(APIError):
    hint = (
        "Expected JSON but got something else (often a proxy or login page); "
        "check the URL points at the API."
    )


class UnknownPortal(CivicKitError, ValueError):
    """A portal name that is not registered, or a URL that no platform probe recognised.

    ``known`` lists the registered names (for a name); ``probes`` pairs each
    probe URL with what it answered (for a URL given to ``detect_portal``).
    """

    def __init__(
        self,
        name: str,
        *,
        known: tuple[str, ...] | list[str] = (),
        probes: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
    ) -> None:
        self.name = name
        self.known = tuple(known)
        self.probes = tuple(probes)
        super().__init__(name)

    def __str__(self) -> str:
        if self.probes:
            answers = "; ".join(f"{url} answered {what}" for url, what in self.probes)
            return (
                f"{self.name} does not look like an open-data portal civickit knows "
                f"(CKAN, ArcGIS, ArcGIS Hub, OpenDataSoft, Socrata): {answers}. "
                "Check the URL, or pass kind= if you know the platform."
            )
        known = ", ".join(sorted(self.known)) or "none"
        return (
            f"Unknown portal {self.name!r}. Use one of: {known}; "
            "or give the portal's URL (https://...)."
        )


class InvalidPostcode(CivicKitError, ValueError):
    """Text that is not shaped like a UK postcode."""

    def __init__(self, text: str, reason: str | None = None) -> None:
        self.text = text
        self.reason = reason
        super().__init__(text, reason)

    def __str__(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return (
            f"{self.text!r} is not a valid UK postcode{why}. "
            "Enter one like 'LS1 1UR': an outward code (LS1) and an inward code (1UR)."
        )


class PostcodeNotFound(CivicKitError):
    """A well-formed postcode that does not exist, or no longer does.

    ``terminated`` is ``None`` for a postcode that never existed, otherwise a
    dict with the retirement details postcodes.io gives (``year``, ``month``,
    ``latitude``, ``longitude``; values as it sends them, so typed ``object``).
    """

    def __init__(
        self,
        postcode: str,
        terminated: dict[str, object] | None = None,
        *,
        why: str | None = None,
    ) -> None:
        self.postcode = postcode
        self.terminated = terminated
        #: what was (and was not) asked, when the answer may not be final: the local
        #: directory alone answered, offline or with postcodes.io out of reach
        self.why = why
        super().__init__(postcode, terminated)

    def __str__(self) -> str:
        if self.why:
            return f"{self.postcode} {self.why}"
        if self.terminated:
            when = self.terminated.get("year")
            month = self.terminated.get("month")
            if when and month:
                when = f"{int(cast('int | str', month)):02d}/{when}"
            return (
                f"{self.postcode} was retired (terminated {when or 'at an unknown date'}). "
                "Use the postcode currently in use at that address."
            )
        return f"{self.postcode} is not a postcode in use. Check it against a recent letter."


class NoPostcodeDirectory(CivicKitError):
    """No local postcode directory where one was asked for (``path``; ``None``: none configured)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        super().__init__(path)

    def __str__(self) -> str:
        where = (
            f"There is no postcode directory at {self.path}"
            if self.path
            else ("No local postcode directory is set up")
        )
        return (
            f"{where}. Download and build one with `civickit postcodes fetch`, build one "
            "from an ONSPD, NSPL or Code-Point Open file with `civickit postcodes build FILE`, "
            "or set CIVICKIT_POSTCODES to the path of one."
        )


class CacheUnavailable(CivicKitError, ValueError):
    """An HTTP cache that cannot be used: a Redis server out of reach, a folder, a file not SQLite.

    Raised when the :class:`~civickit.http.HttpClient` is made, before any request.
    """


class InvalidPhoneNumber(CivicKitError, ValueError):
    """A phone number that cannot be used; ``reason`` says why in plain words."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(text, reason)

    def __str__(self) -> str:
        return f"That phone number cannot be used: {self.reason}."


class DataFormatError(CivicKitError):
    """A file, or one row of it, does not match its published layout."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__(source, line, message)

    def __str__(self) -> str:
        where = f"{self.source}, line {self.line}" if self.line else self.source
        return f"{where}: {self.message}"


class SMSError(CivicKitError):
    """The SMS provider refused a message, or may not have sent it.

    ``permanent``: retrying can never help (the number is opted out or invalid).
    ``ambiguous``: the request may have been accepted (a timeout after sending);
    resending risks a duplicate, so such messages are reconciled, not retried.
    """

    def __init__(
        self,
        code: int | str | None,
        permanent: bool,
        message: str = "",
        *,
        ambiguous: bool = False,
    ) -> None:
        self.code = code
        self.permanent = permanent
        self.ambiguous = ambiguous
        self.message = message
        super().__init__(code, permanent, message)

    def __str__(self) -> str:
        kind = (
            "may or may not have been sent; check the provider before resending"
            if self.ambiguous
            else "was refused for good"
            if self.permanent
            else "failed for now; retry later"
        )
        code = f" (error {self.code})" if self.code is not None else ""
        detail = f": {self.message}" if self.message else ""
        return f"The SMS {kind}{code}{detail}"


class InvalidArgument(CivicKitError, ValueError):
    """An argument whose value cannot work; the message says which and why."""


class InvalidArgumentType(CivicKitError, TypeError):
    """An argument of the wrong type; the message says what was expected."""
