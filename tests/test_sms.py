"""civickit.sms: phone numbers, senders over the real twilio Client, keywords, webhooks."""

from __future__ import annotations

import io
import logging
import re
import socket
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
import requests
import responses
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.middleware.proxy_fix import ProxyFix

from civickit.errors import InvalidPhoneNumber, SMSError
from civickit.sms import (
    ConsoleSender,
    MemorySender,
    SentMessage,
    TwilioSender,
    keyword,
    mask_phone,
    normalise_phone,
    twilio_webhook,
    verify_twilio_request,
)
from tests.helpers import free_port

# Ofcom's drama range, and phonenumbers' own example numbers: nobody's real phone
MOBILE = "+447700900123"
EXAMPLE_MOBILE = "+447400123456"  # phonenumbers.example_number_for_type("GB", MOBILE)
ACCOUNT = "AC" + "0" * 32
TOKEN = "test-auth-token"
SERVICE = "MG" + "1" * 32
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
E164 = re.compile(r"\+[1-9]\d{6,14}")


# -- normalise_phone ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "07700 900123",
        "07700900123",
        "+44 7700 900123",
        "+447700900123",
        "447700900123",
        "+44 (0)7700 900123",
        "0044 7700 900123",
        " 07700-900-123 ",
        "(07700) 900123",
    ],
)
def test_normalise_phone_accepts_common_spellings(text):
    assert normalise_phone(text) == MOBILE


def test_normalise_phone_validates_ordinary_mobiles():
    assert normalise_phone("07400 123456") == EXAMPLE_MOBILE


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0121 234 5678", "landline"),
        ("0800 123 4567", "freephone"),
        ("0901 234 5678", "premium-rate"),
    ],
)
def test_normalise_phone_refuses_numbers_that_cannot_take_texts(text, reason):
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalise_phone(text)
    assert reason in caught.value.reason
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("07624 123456", "Isle of Man"),
        ("07797 123456", "Jersey"),
        ("07781 123456", "Guernsey"),
        ("+44 7911 123456", "Guernsey"),
    ],
)
def test_normalise_phone_refuses_crown_dependency_mobiles_as_uk_ones(text, place):
    """They share +44 but cost more to text: a route for SMS-pumping fraud."""
    with pytest.raises(InvalidPhoneNumber, match=f"it is a {place} number, not a UK number"):
        normalise_phone(text)
    assert normalise_phone(text, allow_crown_dependencies=True).startswith("+447")


def test_normalise_phone_accepts_landlines_when_asked():
    assert normalise_phone("0121 234 5678", mobile_only=False) == "+441212345678"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no number"),
        ("   ", "no number"),
        ("hello", "letters"),
        ("07700 9OO123", "letters"),
        ("+", "not a phone number"),
        ("07700 9001234 5", "too long"),
        ("+33 6 12 34 56 78", "not a UK number"),
        ("+1 415 555 2671", "not a UK number"),
        ("01632 960123", "not a valid UK number"),
    ],
)
def test_normalise_phone_says_why(text, reason):
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalise_phone(text)
    assert reason in caught.value.reason
    assert caught.value.text == text
    assert isinstance(caught.value, ValueError)


def test_normalise_phone_other_regions_and_any_region():
    assert normalise_phone("06 12 34 56 78", "FR") == "+33612345678"
    assert normalise_phone("+33 6 12 34 56 78", None) == "+33612345678"
    with pytest.raises(InvalidPhoneNumber, match="country code"):
        normalise_phone("06 12 34 56 78", None)


phone_ish = st.from_regex(r"\A[+0(]?[0-9 ()+-]{0,20}\Z", fullmatch=True)


@settings(deadline=None)  # no timing assertions on a shared machine
@given(st.one_of(st.text(max_size=30), phone_ish))
def test_normalise_phone_gives_e164_or_says_why(text):
    try:
        out = normalise_phone(text)
    except InvalidPhoneNumber as exc:
        assert exc.reason
    else:
        assert E164.fullmatch(out)
        assert normalise_phone(out) == out  # idempotent


# -- mask_phone -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+447700900123", "+44 77** ***123"),
        ("+14155552671", "+1 41** ***671"),
        ("07700 900123", "********123"),
        ("", "(none)"),
        (None, "(none)"),
        ("12", "**"),
    ],
)
def test_mask_phone(number, masked):
    assert mask_phone(number) == masked


def test_sent_message_repr_masks_the_number_and_hides_the_body():
    text = repr(SentMessage("SM1", MOBILE, "queued", body="Your code is 123456"))
    assert "900123" not in text and "123456" not in text
    assert "+44 77** ***123" in text


# -- TwilioSender through the real twilio Client --------------------------------------


@pytest.fixture
def twilio_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _sender(**kwargs) -> TwilioSender:
    kwargs.setdefault("messaging_service_sid", SERVICE)
    return TwilioSender(ACCOUNT, TOKEN, **kwargs)


def _error(code: int, status: int, message: str) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def test_twilio_sender_sends_through_a_messaging_service(twilio_api):
    twilio_api.post(
        MESSAGES_URL,
        status=201,
        json={
            "sid": "SM" + "a" * 32,
            "status": "accepted",
            "to": MOBILE,
            "messaging_service_sid": SERVICE,
            "body": "Black bin tomorrow",
        },
    )
    sender = _sender(status_callback="https://bins.example.org/twilio/status")

    sent = sender.send(MOBILE, "Black bin tomorrow")

    assert sent == SentMessage("SM" + "a" * 32, MOBILE, "accepted")
    (call,) = twilio_api.calls
    form = parse_qs(call.request.body)
    assert form == {
        "To": [MOBILE],
        "Body": ["Black bin tomorrow"],
        "MessagingServiceSid": [SERVICE],
        "StatusCallback": ["https://bins.example.org/twilio/status"],
        "ValidityPeriod": ["14400"],
    }
    assert call.request.headers["Authorization"].startswith("Basic ")


def test_twilio_sender_prefers_the_messaging_service_over_from(twilio_api):
    twilio_api.post(MESSAGES_URL, status=201, json={"sid": "SM1", "status": "accepted"})
    _sender(from_="+447700900999").send(MOBILE, "hi")
    form = parse_qs(twilio_api.calls[0].request.body)
    assert "From" not in form and form["MessagingServiceSid"] == [SERVICE]


def test_twilio_sender_can_send_from_a_number(twilio_api):
    twilio_api.post(MESSAGES_URL, status=201, json={"sid": "SM1", "status": "queued"})
    sent = TwilioSender(ACCOUNT, TOKEN, from_="+447700900999").send(MOBILE, "hi")
    assert sent.status == "queued"
    assert parse_qs(twilio_api.calls[0].request.body)["From"] == ["+447700900999"]


def test_twilio_sender_needs_a_sender():
    with pytest.raises(ValueError, match="messaging_service_sid"):
        TwilioSender(ACCOUNT, TOKEN)


@pytest.mark.parametrize(
    ("code", "status", "message", "permanent"),
    [
        (21610, 400, "Attempt to send to unsubscribed recipient", True),
        (21211, 400, "The 'To' number +447700900123 is not a valid phone number.", True),
        (21614, 400, "'To' number is not a valid mobile number", True),
        (21408, 400, "Permission to send an SMS has not been enabled for the region", True),
        (20429, 429, "Too Many Requests", False),
        (20500, 500, "Internal Server Error", False),
        (30001, 400, "Queue overflow", False),
        (99999, 400, "Something new", True),
        (99999, 503, "Something new", False),
    ],
)
def test_twilio_errors_are_classified(twilio_api, code, status, message, permanent):
    twilio_api.post(MESSAGES_URL, status=status, json=_error(code, status, message))

    with pytest.raises(SMSError) as caught:
        _sender().send(MOBILE, "Black bin tomorrow")

    assert caught.value.code == code
    assert caught.value.permanent is permanent
    assert caught.value.ambiguous is False
    assert "7700900123" not in str(caught.value)  # Twilio's text, masked
    assert len(twilio_api.calls) == 1  # never retried behind the caller's back


def test_a_bare_http_500_is_transient(twilio_api):
    twilio_api.post(MESSAGES_URL, status=500, body="<html>oops</html>")
    with pytest.raises(SMSError) as caught:
        _sender().send(MOBILE, "hi")
    assert caught.value.permanent is False and caught.value.ambiguous is False


# Real exceptions, produced by requests against local sockets, then replayed through
# responses so that the twilio Client meets exactly what requests raises.


def _serve_once(handle) -> tuple[int, threading.Thread]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run():
        conn, _ = listener.accept()
        with conn, listener:
            handle(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


@pytest.fixture(scope="module")
def network_errors() -> dict[str, requests.RequestException]:
    errors: dict[str, requests.RequestException] = {}
    try:
        requests.post(f"http://127.0.0.1:{free_port()}/", data={"To": "x"}, timeout=5)
    except requests.RequestException as exc:
        errors["refused"] = exc

    done = threading.Event()
    port, thread = _serve_once(lambda conn: (conn.recv(65536), done.wait(10)))
    try:  # the request goes out; the answer never comes
        requests.post(f"http://127.0.0.1:{port}/", data={"To": "x"}, timeout=(5, 0.2))
    except requests.RequestException as exc:
        errors["read_timeout"] = exc
    done.set()
    thread.join(5)

    port, thread = _serve_once(lambda conn: conn.recv(65536))  # read, then hang up
    try:
        requests.post(f"http://127.0.0.1:{port}/", data={"To": "x"}, timeout=5)
    except requests.RequestException as exc:
        errors["dropped"] = exc
    thread.join(5)
    assert set(errors) == {"refused", "read_timeout", "dropped"}
    return errors


def test_refused_connection_is_transient(twilio_api, network_errors):
    twilio_api.post(MESSAGES_URL, body=network_errors["refused"])
    with pytest.raises(SMSError) as caught:
        _sender().send(MOBILE, "hi")
    assert caught.value.permanent is False
    assert caught.value.ambiguous is False
    assert "nothing was sent" in str(caught.value)


@pytest.mark.parametrize("kind", ["read_timeout", "dropped"])
def test_no_answer_after_sending_is_ambiguous(twilio_api, network_errors, kind):
    assert not isinstance(network_errors[kind], requests.ConnectTimeout)
    twilio_api.post(MESSAGES_URL, body=network_errors[kind])
    with pytest.raises(SMSError) as caught:
        _sender().send(MOBILE, "hi")
    assert caught.value.ambiguous is True
    assert caught.value.permanent is False
    assert "check the provider before resending" in str(caught.value)
    assert len(twilio_api.calls) == 1


# -- ConsoleSender and MemorySender ---------------------------------------------------


def test_console_sender_prints_body_and_masks_number():
    out = io.StringIO()
    sent = ConsoleSender(out).send(MOBILE, "Your code is 482913")
    text = out.getvalue()
    assert "+44 77** ***123" in text
    assert "Your code is 482913" in text
    assert "7700900123" not in text
    assert sent.to == MOBILE and sent.sid.startswith("SM") and sent.status == "sent"


def test_console_sender_defaults_to_stdout(capsys):
    ConsoleSender().send(MOBILE, "hello")
    assert "hello" in capsys.readouterr().out


def test_memory_sender_records_and_fails_on_script():
    sender = MemorySender()
    first = sender.send(MOBILE, "Your code is 123456")
    sender.fail_next(SMSError(20429, False, "slow down"))
    with pytest.raises(SMSError):
        sender.send(MOBILE, "not sent")
    sender.send(MOBILE, "Your new code is 654321")

    assert [m.body for m in sender.sent] == ["Your code is 123456", "Your new code is 654321"]
    assert first.sid != sender.sent[1].sid
    assert sender.last_code_for(MOBILE) == "654321"
    assert sender.last_code_for(EXAMPLE_MOBILE) is None


def test_memory_sender_ambiguous_failure_still_delivers():
    sender = MemorySender()
    sender.fail_next(SMSError(None, False, "timeout", ambiguous=True))
    with pytest.raises(SMSError):
        sender.send(MOBILE, "Black bin tomorrow")
    assert len(sender.messages_to(MOBILE)) == 1  # so a blind resend shows as a duplicate


def test_memory_sender_fail_for_a_number():
    sender = MemorySender()
    sender.fail_for(MOBILE, SMSError(21610, True, "opted out"))
    for _ in range(2):
        with pytest.raises(SMSError) as caught:
            sender.send(MOBILE, "hi")
        assert caught.value.permanent
    assert sender.send(EXAMPLE_MOBILE, "hi").to == EXAMPLE_MOBILE


# -- keywords ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["STOP", "stop", " Stop\n", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
             "REVOKE", "OPTOUT"],
)  # fmt: skip
def test_stop_keywords(body):
    assert keyword(body) == "stop"


@pytest.mark.parametrize("body", ["START", "yes", "Unstop"])
def test_start_keywords(body):
    assert keyword(body) == "start"


@pytest.mark.parametrize("body", ["HELP", "info "])
def test_help_keywords(body):
    assert keyword(body) == "help"


@pytest.mark.parametrize("body", ["STOP PLEASE", "please stop", "stop.", "", None, "HELLO"])
def test_only_a_whole_message_is_a_keyword(body):
    assert keyword(body) is None


# -- webhook signatures -------------------------------------------------------------------

PUBLIC = "https://bins.example.org"
INBOUND = {"From": MOBILE, "To": "+447700900999", "Body": "STOP", "MessageSid": "SM" + "b" * 32}


def _sign(url: str, params: dict, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def test_verify_twilio_request():
    url = PUBLIC + "/twilio/inbound?round=12"
    signature = _sign(url, INBOUND)
    assert verify_twilio_request(TOKEN, url, INBOUND, signature)
    assert not verify_twilio_request("another-token", url, INBOUND, signature)
    assert not verify_twilio_request(TOKEN, url, {**INBOUND, "Body": "START"}, signature)
    assert not verify_twilio_request(TOKEN, url.replace("https", "http"), INBOUND, signature)
    assert not verify_twilio_request(TOKEN, url, INBOUND, "")
    assert not verify_twilio_request(TOKEN, url, INBOUND, None)
    assert not verify_twilio_request("", url, INBOUND, signature)


def _app(**config) -> Flask:
    app = Flask(__name__)
    app.config.update({"TWILIO_AUTH_TOKEN": TOKEN, **config})

    @app.post("/twilio/inbound")
    @twilio_webhook(lambda: app.config["TWILIO_AUTH_TOKEN"])
    def inbound():
        return "<Response/>"

    return app


def test_webhook_accepts_a_request_signed_by_twilio():
    url = PUBLIC + "/twilio/inbound?round=12"
    client = _app().test_client()
    resp = client.post(
        "/twilio/inbound?round=12",
        base_url=PUBLIC,
        data=INBOUND,
        headers={"X-Twilio-Signature": _sign(url, INBOUND)},
    )
    assert resp.status_code == 200
    assert resp.text == "<Response/>"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Signature": ""},
        {"X-Twilio-Signature": _sign(PUBLIC + "/twilio/inbound", INBOUND, "forged-token")},
        {"X-Twilio-Signature": _sign(PUBLIC + "/twilio/inbound", {**INBOUND, "Body": "HI"})},
    ],
    ids=["missing", "empty", "wrong-token", "tampered-body"],
)
def test_webhook_answers_403_to_a_bad_signature(headers):
    resp = (
        _app().test_client().post("/twilio/inbound", base_url=PUBLIC, data=INBOUND, headers=headers)
    )
    assert resp.status_code == 403
    assert resp.mimetype == "text/plain"
    assert "Twilio" in resp.text and len(resp.text) < 80


def test_webhook_without_a_configured_token_fails_closed():
    url = PUBLIC + "/twilio/inbound"
    resp = _app(TWILIO_AUTH_TOKEN=None).test_client().post(
        "/twilio/inbound", base_url=PUBLIC, data=INBOUND,
        headers={"X-Twilio-Signature": _sign(url, INBOUND)},
    )  # fmt: skip
    assert resp.status_code == 403


def _through_tls_proxy(app: Flask):
    """Post as a TLS-terminating proxy would: http internally, the public URL signed."""
    signature = _sign(PUBLIC + "/twilio/inbound", INBOUND)
    return app.test_client().post(
        "/twilio/inbound",
        base_url="http://10.0.0.5:8000",
        data=INBOUND,
        headers={
            "X-Twilio-Signature": signature,
            "X-Forwarded-For": "54.172.60.1",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "bins.example.org",
        },
    )


def test_behind_a_tls_proxy_the_signature_fails_without_help(caplog):
    with caplog.at_level(logging.WARNING, logger="civickit.sms"):
        assert _through_tls_proxy(_app()).status_code == 403
    assert "ProxyFix" in caplog.text and "PUBLIC_BASE_URL" in caplog.text


def test_behind_a_tls_proxy_proxyfix_restores_the_signed_url():
    app = _app()
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    assert _through_tls_proxy(app).status_code == 200


def test_behind_a_tls_proxy_public_base_url_restores_the_signed_url():
    assert _through_tls_proxy(_app(PUBLIC_BASE_URL=PUBLIC + "/")).status_code == 200


# -- logs ----------------------------------------------------------------------------


def test_no_log_line_contains_a_full_phone_number(caplog, twilio_api):
    twilio_api.post(MESSAGES_URL, status=201, json={"sid": "SM1", "status": "accepted"})
    twilio_api.post(
        MESSAGES_URL,
        status=400,
        json=_error(21211, 400, f"The 'To' number {MOBILE} is not a valid phone number."),
    )
    caplog.set_level(logging.DEBUG)

    sender = _sender()
    sender.send(MOBILE, "Black bin tomorrow")
    with pytest.raises(SMSError):
        sender.send(MOBILE, "Black bin tomorrow")
    ConsoleSender(io.StringIO()).send(MOBILE, "code 123456")
    memory = MemorySender()
    memory.send(MOBILE, "hi")
    memory.fail_next(SMSError(21610, True, "opted out"))
    with pytest.raises(SMSError):
        memory.send(MOBILE, "hi")
    _app().test_client().post("/twilio/inbound", base_url=PUBLIC, data=INBOUND)

    lines = [record.getMessage() for record in caplog.records]
    assert any("+44 77** ***123" in line for line in lines)
    for line in lines:
        assert "7700900123" not in re.sub(r"\D", "", line), line
        assert "123456" not in line  # nor a verification code
