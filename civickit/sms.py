"""Text messages: phone numbers, senders, and checks on Twilio's webhooks.

normalise_phone(text) -> "+447700900123"     or InvalidPhoneNumber(.reason)
mask_phone(number)    -> "+44 77** ***123"   the only form a number takes in logs

Senders share ``send(to, body) -> SentMessage`` and raise SMSError:
  TwilioSender    the real thing (twilio.rest.Client)
  ConsoleSender   prints the message: the demo default
  MemorySender    keeps messages in a list: tests

SMSError.permanent   retrying can never help (21610 opted out, 21211 invalid...)
SMSError.ambiguous   Twilio may have accepted it (a timeout after sending):
                     reconcile with Twilio, never resend blindly

keyword(body)                  -> "stop" | "start" | "help" | None
verify_twilio_request(...)     -> bool
@twilio_webhook(get_token)     Flask views answer 403 to a bad signature
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

import phonenumbers
import requests
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient as TwilioHttpClientBase
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from urllib3.exceptions import NewConnectionError

from .errors import (
    InvalidArgument,
    InvalidPhoneNumber,
    SMSError,
)

__all__ = [
    "ConsoleSender",
    "MemorySender",
    "SentMessage",
    "TwilioSender",
    "classify_twilio_error",
    "keyword",
    "mask_phone",
    "normalise_phone",
    "twilio_webhook",
    "verify_twilio_request",
]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., object])

# -- phone numbers -------------------------------------------------------------------

_REGION_NAMES = {"GB": "UK"}
# +44 numbers outside the UK (phonenumbers' region codes)
_CROWN_DEPENDENCIES = {"IM": "Isle of Man", "JE": "Jersey", "GG": "Guernsey"}
# Ofcom reserves 07700 900000-900999 for drama and examples; phonenumbers calls
# them invalid, but they are what every example, test and demo here uses, so
# nobody's real number ends up in a fixture. Twilio refuses them (21211).
_OFCOM_DRAMA_MOBILE = re.compile(r"7700900\d{3}")
_LETTER = re.compile(r"[^\W\d_]")
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "the country code is not recognised",
    NumberParseException.NOT_A_NUMBER: "it is not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "it is too short",
    NumberParseException.TOO_SHORT_NSN: "it is too short",
    NumberParseException.TOO_LONG: "it is too long",
}
_LENGTH_REASONS = {
    ValidationResult.TOO_SHORT: "it is too short",
    ValidationResult.TOO_LONG: "it is too long",
    ValidationResult.INVALID_LENGTH: "it has the wrong number of digits",
    ValidationResult.INVALID_COUNTRY_CODE: "the country code is not recognised",
}
_NOT_MOBILE = {
    PhoneNumberType.FIXED_LINE: "it is a landline, which cannot receive texts",
    PhoneNumberType.TOLL_FREE: "it is a freephone number, not a mobile",
    PhoneNumberType.PREMIUM_RATE: "it is a premium-rate number, not a mobile",
    PhoneNumberType.SHARED_COST: "it is a shared-cost number, not a mobile",
    PhoneNumberType.UAN: "it is a non-geographic number, not a mobile",
    PhoneNumberType.PAGER: "it is a pager number, not a mobile",
}


def normalise_phone(
    text: str,
    region: str | None = "GB",
    *,
    mobile_only: bool = True,
    allow_crown_dependencies: bool = False,
) -> str:
    """Return ``text`` as an E.164 number ("+447700900123"), or raise InvalidPhoneNumber.

    Accepts the usual spellings: "07700 900123", "+44 7700 900123",
    "+44 (0)7700 900123", "0044 7700 900123", "447700900123". ``region`` is the
    country a number without "+" belongs to, and the only country accepted
    (``None``: any country, written with "+"). With ``mobile_only`` (the
    default) landlines and other numbers that cannot receive texts are refused.
    The error's ``reason`` says why in plain words, fit to show the person.

    The Isle of Man, Jersey and Guernsey share +44 but are not in the UK: their
    numbers cost more to text and are a common route for SMS-pumping fraud, so
    with ``region="GB"`` they are refused unless ``allow_crown_dependencies``.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidPhoneNumber(str(text or ""), "no number was given")
    if _LETTER.search(text):
        raise InvalidPhoneNumber(text, "it contains letters; enter the digits only")
    place = _REGION_NAMES.get(region or "", region)
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, "it is not a phone number")
        if region is None and exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            reason = "it needs a country code, like +44"
        raise InvalidPhoneNumber(text, reason) from None
    if region and number.country_code != phonenumbers.country_code_for_region(region):
        raise InvalidPhoneNumber(
            text, f"it is a +{number.country_code} number, not a {place} number"
        )
    nsn = phonenumbers.national_significant_number(number)
    if number.country_code == 44 and _OFCOM_DRAMA_MOBILE.fullmatch(nsn):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != ValidationResult.IS_POSSIBLE:
        raise InvalidPhoneNumber(text, _LENGTH_REASONS.get(possible, "it is not a phone number"))
    if not phonenumbers.is_valid_number(number):
        where = f"{place} " if region else ""
        raise InvalidPhoneNumber(text, f"it is not a valid {where}number")
    where_from = phonenumbers.region_code_for_number(number)
    allowed = {region, *(_CROWN_DEPENDENCIES if allow_crown_dependencies else ())}
    if region and where_from not in allowed:
        name = _CROWN_DEPENDENCIES.get(where_from or "", where_from or "another place")
        raise InvalidPhoneNumber(text, f"it is a {name} number, not a {place} number")
    kind = phonenumbers.number_type(number)
    if mobile_only and kind not in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidPhoneNumber(text, _NOT_MOBILE.get(kind, "it is not a mobile number"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(number: str | None) -> str:
    """Hide all but the country code, two leading and three trailing digits.

    "+447700900123" -> "+44 77** ***123". Never raises: anything that is not an
    E.164 number keeps only its last three digits ("*******123").
    """
    text = str(number or "")
    try:
        parsed = phonenumbers.parse(text, None)
    except NumberParseException:
        parsed = None
    if parsed is not None and parsed.country_code:
        nsn = phonenumbers.national_significant_number(parsed)
        if len(nsn) >= 7:
            shown = nsn[:2] + "*" * (len(nsn) - 5) + nsn[-3:]
            return f"+{parsed.country_code} {shown[:4]} {shown[4:]}"
    digits = re.sub(r"\D", "", text)
    if len(digits) < 7:
        return "*" * len(digits) or "(none)"
    return "*" * (len(digits) - 3) + digits[-3:]


_PHONE_LIKE = re.compile(r"\+?\d[\d ()-]{5,}\d")


def _scrub(text: str) -> str:
    """Mask anything that looks like a phone number in ``text`` (provider messages)."""
    return _PHONE_LIKE.sub(lambda m: mask_phone(m.group(0)), text)


# -- messages and senders ---------------------------------------------------------------


@dataclass(frozen=True)
class SentMessage:
    """A message the provider accepted: its ``sid``, the E.164 ``to`` and first ``status``.

    ``body`` is kept by the console and memory senders (None from Twilio) and is
    left out of ``repr`` so that codes in it never reach a log; ``to`` is masked there.
    """

    sid: str
    to: str
    status: str
    body: str | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"SentMessage(sid={self.sid!r}, to={mask_phone(self.to)!r}, status={self.status!r})"


# Twilio error codes at send time (https://www.twilio.com/docs/api/errors/<code>)
PERMANENT_CODES: dict[int, str] = {
    20003: "Twilio refused the credentials; check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
    20404: "Twilio has no such account or Messaging Service; check the SIDs",
    21211: "the 'To' number is not a valid phone number",
    21212: "the sending number is not valid",
    21408: "texts to this country are not enabled (Twilio geo permissions)",
    21602: "the message body is empty",
    21606: "the sending number cannot send texts",
    21608: "trial accounts can only text verified numbers",
    21610: "the recipient has opted out (replied STOP); do not text them again",
    21612: "this number cannot be reached from the sending number",
    21614: "the 'To' number is not a mobile and cannot receive texts",
    21617: "the message body is too long",
}
TRANSIENT_CODES: dict[int, str] = {
    20429: "too many requests at once; Twilio did not process it, so it is safe to retry",
    20500: "Twilio had an internal error",
    20503: "Twilio is temporarily unavailable",
    21611: "the sending number's queue is full; slow down or add senders",
    30001: "the queue is full; slow down or add senders",
}


def classify_twilio_error(exc: TwilioRestException) -> SMSError:
    """Turn a Twilio API error into an SMSError that says whether a retry can help."""
    code = exc.code if exc.code is not None else exc.status
    detail = _scrub(str(exc.msg or "")).strip()
    said = f" (Twilio said: {detail})" if detail else ""
    if exc.code in PERMANENT_CODES:
        return SMSError(code, True, PERMANENT_CODES[exc.code] + said)
    if exc.code in TRANSIENT_CODES:
        return SMSError(code, False, TRANSIENT_CODES[exc.code] + said)
    # not in the table: a 4xx is the same answer next time, a 429/5xx may not be
    transient = exc.status == 429 or (exc.status or 0) >= 500
    return SMSError(code, not transient, f"HTTP {exc.status}{said}")


def _cause_chain(exc: BaseException) -> list[Any]:
    """The exception, what it wraps (args, urllib3's ``reason``, causes), depth-first."""
    seen: list[Any] = []
    stack: list[Any] = [exc]
    while stack and len(seen) < 20:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        stack.extend([*item.args, getattr(item, "reason", None), item.__cause__, item.__context__])
    return seen


def classify_network_error(exc: requests.RequestException) -> SMSError:
    """A failure with no answer from Twilio: transient if nothing was sent, else ambiguous."""
    chain = _cause_chain(exc)
    if isinstance(exc, requests.ConnectTimeout) or any(
        isinstance(e, NewConnectionError) for e in chain
    ):
        return SMSError(None, False, f"could not connect to Twilio, so nothing was sent ({exc})")
    return SMSError(
        None,
        False,
        f"no answer from Twilio after sending ({type(exc).__name__}); "
        "the message may have been accepted",
        ambiguous=True,
    )


class TwilioSender:
    """Send texts through Twilio's Messages API.

    Give ``messaging_service_sid`` (preferred: opt-out handling, sender pools,
    alphanumeric sender) or ``from_``. ``validity_period`` (seconds) lets Twilio
    drop a message stuck in its queue rather than deliver tomorrow's reminder
    late. ``http_client`` (a ``twilio.http.HttpClient``) replaces the twilio HTTP
    client (default: timeouts on, no automatic retries, since a retried create can
    send the message twice).
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        messaging_service_sid: str | None = None,
        from_: str | None = None,
        status_callback: str | None = None,
        validity_period: int | None = 4 * 3600,
        http_client: TwilioHttpClientBase | None = None,
        timeout: float = 30.0,
    ) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        if not account_sid or not auth_token:
            raise InvalidArgument("TwilioSender needs an account SID and auth token (TWILIO_*).")
        if not messaging_service_sid and not from_:
            raise InvalidArgument(
                "TwilioSender needs a messaging_service_sid (preferred) or a from_ number."
            )
        if validity_period is not None and not 1 <= validity_period <= 36000:
            raise InvalidArgument("validity_period must be between 1 and 36000 seconds.")
        self.messaging_service_sid = messaging_service_sid
        self.from_ = from_
        self.status_callback = status_callback
        self.validity_period = validity_period
        self.client = Client(
            account_sid, auth_token, http_client=http_client or TwilioHttpClient(timeout=timeout)
        )

    def send(self, to: str, body: str) -> SentMessage:
        """Ask Twilio to send ``body`` to the E.164 number ``to``; raise SMSError if it won't."""
        params: dict[str, Any] = {"to": to, "body": body}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_
        if self.status_callback:
            params["status_callback"] = self.status_callback
        if self.validity_period:
            params["validity_period"] = self.validity_period
        try:
            message = self.client.messages.create(**params)
        except TwilioRestException as exc:
            error = classify_twilio_error(exc)
        except requests.RequestException as exc:
            error = classify_network_error(exc)
        else:
            sent = SentMessage(sid=message.sid, to=to, status=str(message.status or "queued"))
            log.info("SMS to %s accepted: sid=%s status=%s", mask_phone(to), sent.sid, sent.status)
            return sent
        _log_failure(to, error)
        raise error


def _log_failure(to: str, error: SMSError) -> None:
    kind = "ambiguous" if error.ambiguous else "permanent" if error.permanent else "transient"
    log.warning("SMS to %s failed (%s, code=%s): %s", mask_phone(to), kind, error.code, error)


class ConsoleSender:
    """Print each message instead of sending it: the demo default.

    The header masks the number; the body is printed in full so that a person
    trying the demo can read the verification code.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def send(self, to: str, body: str) -> SentMessage:
        sid = "SMconsole" + uuid.uuid4().hex[:23]
        out = self.stream or sys.stdout  # looked up now, so redirection works
        print(f"--- SMS to {mask_phone(to)} ({sid}) ---", file=out)
        print(body, file=out)
        print("---", file=out, flush=True)
        log.info("SMS to %s printed to the console: sid=%s", mask_phone(to), sid)
        return SentMessage(sid=sid, to=to, status="sent", body=body)


class MemorySender:
    """Keep messages in ``.sent`` instead of sending them, with scripted failures, for tests."""

    def __init__(self) -> None:
        self.sent: list[SentMessage] = []
        self._next: deque[tuple[SMSError, bool]] = deque()
        self._always: dict[str, SMSError] = {}

    def fail_next(self, error: SMSError, *, times: int = 1, delivered: bool | None = None) -> None:
        """Make the next ``times`` sends raise ``error``.

        ``delivered`` says whether the message still arrives; it defaults to
        ``error.ambiguous``, the case where Twilio accepted it but the answer
        was lost, so that tests can catch a blind resend as a duplicate.
        """
        got = error.ambiguous if delivered is None else delivered
        self._next.extend([(error, got)] * times)

    def fail_for(self, number: str, error: SMSError) -> None:
        """Make every send to ``number`` raise ``error`` (e.g. 21610 for an opted-out number)."""
        self._always[number] = error

    def send(self, to: str, body: str) -> SentMessage:
        message = SentMessage(sid=f"SM{len(self.sent) + 1:032x}", to=to, status="queued", body=body)
        error, delivered = self._next.popleft() if self._next else (self._always.get(to), False)
        if error is not None:
            if delivered:
                self.sent.append(message)
            _log_failure(to, error)
            raise error
        self.sent.append(message)
        log.info("SMS to %s kept in memory: sid=%s", mask_phone(to), message.sid)
        return message

    def messages_to(self, number: str) -> list[SentMessage]:
        """Every message sent to ``number``, oldest first."""
        return [m for m in self.sent if m.to == number]

    def last_code_for(self, number: str) -> str | None:
        """The 6-digit code in the last message to ``number``, if any."""
        for message in reversed(self.messages_to(number)):
            found = re.search(r"(?<!\d)\d{6}(?!\d)", message.body or "")
            if found:
                return found.group(0)
        return None


# -- inbound: keywords and webhook signatures ----------------------------------------------

# Twilio's default opt-out keywords on long codes and toll-free numbers
STOP_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
START_KEYWORDS = frozenset({"start", "yes", "unstop"})
HELP_KEYWORDS = frozenset({"help", "info"})


def keyword(body: str | None) -> str | None:
    """Classify an inbound text as Twilio does: "stop", "start", "help" or None.

    Only the whole message counts (case and surrounding spaces aside): "Stop "
    is a STOP, "stop please" is not, just as Twilio's own opt-out handling sees it.
    """
    word = (body or "").strip().casefold()
    if word in STOP_KEYWORDS:
        return "stop"
    if word in START_KEYWORDS:
        return "start"
    if word in HELP_KEYWORDS:
        return "help"
    return None


def verify_twilio_request(
    auth_token: str,
    url: str,
    params: Mapping[str, str] | None,
    signature: str | None,
    *,
    algorithm: str | None = None,
) -> bool:
    """Whether ``signature`` (the X-Twilio-Signature header) fits ``url`` and ``params``.

    ``url`` must be exactly the address Twilio requested, scheme and query
    string included; ``params`` the POSTed form (a Flask ``request.form`` works).
    """
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, params or {}, signature, algorithm))


def public_request_url() -> str:
    """The URL Twilio signed for the current Flask request.

    With ``PUBLIC_BASE_URL`` in the app's config, that (the public address of
    the app's root) plus the request's path and query; otherwise
    ``request.url``, which is right only when the app sees the public scheme
    and host, i.e. directly or behind a proxy through werkzeug's ProxyFix.
    """
    from flask import current_app, request
    from werkzeug.sansio.utils import get_current_url

    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return request.url
    parts = urlsplit(base)
    return get_current_url(
        parts.scheme, parts.netloc, parts.path or "/", request.path, request.query_string
    )


def twilio_webhook(auth_token_getter: Callable[[], str | None] | str) -> Callable[[F], F]:
    """Decorate a Flask view so that only requests signed by Twilio reach it.

    ``auth_token_getter`` returns the Twilio auth token (read at request time,
    e.g. ``lambda: current_app.config["TWILIO_AUTH_TOKEN"]``). A missing or
    wrong signature gets a 403 with a short plain-text body, and a log line
    saying why (numbers masked).
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from flask import Response, current_app, request

            token = auth_token_getter() if callable(auth_token_getter) else auth_token_getter
            url = public_request_url()
            signature = request.headers.get(SIGNATURE_HEADER)
            algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
            if not token:
                why = "no Twilio auth token is configured (TWILIO_AUTH_TOKEN)"
            elif not signature:
                why = f"the {SIGNATURE_HEADER} header is missing"
            elif not verify_twilio_request(
                token, url, request.form, signature, algorithm=algorithm
            ):
                why = f"the signature does not match {url}"
                if url.startswith("http://") and not current_app.config.get("PUBLIC_BASE_URL"):
                    why += (
                        " (behind a proxy that terminates TLS? wrap the app in werkzeug's "
                        "ProxyFix or set PUBLIC_BASE_URL)"
                    )
            else:
                return view(*args, **kwargs)
            log.warning(
                "Rejected webhook %s from %s: %s",
                request.path,
                mask_phone(request.form.get("From")),
                why,
            )
            return Response(
                "Forbidden: request not signed by Twilio.\n", 403, mimetype="text/plain"
            )

        return wrapper  # type: ignore[return-value]

    return decorator
