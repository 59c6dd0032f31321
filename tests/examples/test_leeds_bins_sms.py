"""leeds_bins texts: double opt-in, Twilio webhooks, unsubscribing, and reminders on a fake clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from civickit.errors import SMSError
from tests.examples.helpers import (
    PHONE,
    confirm,
    csrf_token,
    leeds_engine,
    sign_up,
    status_of,
    subscribed,
    twilio_post,
)

LONDON = ZoneInfo("Europe/London")
OTHER = "07700 900456"


# -- sign-up ---------------------------------------------------------------------------


def test_sign_up_texts_a_code_stored_only_as_a_hash(leeds_app, leeds_client, leeds_sender):
    import sqlalchemy as sa

    from examples.leeds_bins import models

    response = sign_up(leeds_client, leeds_sender)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/sms/verify")
    [message] = leeds_sender.messages_to(PHONE)
    code = leeds_sender.last_code_for(PHONE)
    assert "expires in 10 minutes" in message.body
    with leeds_engine(leeds_app).connect() as conn:
        row = conn.execute(sa.select(models.verification_codes)).one()
        sub = conn.execute(sa.select(models.subscriptions)).one()
    assert code not in row.code_hash
    assert sub.status == "pending"
    assert "I agree to Leeds bin days texting this mobile number" in sub.consent_text


def test_confirming_the_code_activates_and_records_consent(leeds_app, leeds_client, leeds_sender):
    response = subscribed(leeds_client, leeds_sender)
    html = response.get_data(as_text=True)
    assert "/unsubscribe/" in html
    assert status_of(leeds_app) == ["active"]
    confirmation = leeds_sender.messages_to(PHONE)[-1].body
    assert "Reply STOP to stop" in confirmation and "/unsubscribe/" in confirmation


def test_wrong_codes_are_limited_to_five(leeds_app, leeds_client, leeds_sender):
    sign_up(leeds_client, leeds_sender)
    good = leeds_sender.last_code_for(PHONE)
    wrong = "000000" if good != "000000" else "111111"
    for left in (4, 3, 2, 1):
        text = confirm(leeds_client, leeds_sender, code=wrong).get_data(as_text=True)
        assert f"{left} {'try' if left == 1 else 'tries'} left" in text
    text = confirm(leeds_client, leeds_sender, code=wrong).get_data(as_text=True)
    assert "Too many wrong codes" in text
    # even the right code is refused now: a new one must be asked for
    text = confirm(leeds_client, leeds_sender, code=good).get_data(as_text=True)
    assert "Too many wrong codes" in text
    assert status_of(leeds_app) == ["pending"]


def test_codes_expire_after_ten_minutes(leeds_app, leeds_client, leeds_sender, monkeypatch):
    from examples.leeds_bins.views import sms

    sign_up(leeds_client, leeds_sender)
    later = datetime.now(UTC) + timedelta(minutes=11)
    monkeypatch.setattr(sms, "utcnow", lambda: later)
    text = confirm(leeds_client, leeds_sender).get_data(as_text=True)
    assert "That code has expired" in text
    assert status_of(leeds_app) == ["pending"]


def test_a_new_code_replaces_the_old(leeds_app, leeds_client, leeds_sender):
    sign_up(leeds_client, leeds_sender)
    first = leeds_sender.last_code_for(PHONE)
    sign_up(leeds_client, leeds_sender)
    second = leeds_sender.last_code_for(PHONE)
    if first != second:
        text = confirm(leeds_client, leeds_sender, code=first).get_data(as_text=True)
        assert "not right" in text
    assert "confirmed" in confirm(leeds_client, leeds_sender, code=second).get_data(as_text=True)


@pytest.mark.parametrize(
    ("phone", "why"),
    [
        ("", "Enter a UK mobile number"),
        ("banana", "contains letters"),
        ("0113 222 4444", "landline"),  # a Leeds landline cannot get texts
        ("+1 202 555 0143", "not a UK number"),
        ("07700", "Enter a UK mobile number"),
        ("9" * 39, "Enter a UK mobile number"),
        ("9" * 500, "Enter a UK mobile number"),
    ],
)
def test_junk_phone_numbers_get_an_inline_error(leeds_client, leeds_sender, phone, why):
    response = sign_up(leeds_client, leeds_sender, phone=phone)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "govuk-error-summary" in html and 'href="#phone"' in html
    assert why.lower() in html.lower()
    assert leeds_sender.sent == []


def test_consent_box_must_be_ticked(leeds_client, leeds_sender):
    page = leeds_client.get("/premises/666057").get_data(as_text=True)
    response = leeds_client.post(
        "/premises/666057/sms", data={"csrf_token": csrf_token(page), "phone": "07700 900123"}
    )
    assert response.status_code == 400
    assert "Tick the box to agree" in response.get_data(as_text=True)
    assert leeds_sender.sent == []


def test_sign_up_to_unknown_premises_is_404(leeds_client, leeds_sender):
    page = leeds_client.get("/premises/666057").get_data(as_text=True)
    response = leeds_client.post(
        "/premises/1/sms",
        data={"csrf_token": csrf_token(page), "phone": "07700900123", "consent": "y"},
    )
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/premises/666057/sms", "/sms/verify", "/unsubscribe/anything"])
def test_forms_without_csrf_token_are_refused(leeds_client, leeds_sender, path):
    response = leeds_client.post(
        path, data={"phone": "07700900123", "consent": "y", "code": "123456"}
    )
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    assert leeds_sender.sent == []


def test_oversized_body_is_413(leeds_client):
    response = leeds_client.post("/premises/666057/sms", data={"phone": "0" * 200_000})
    assert response.status_code == 413


def test_verify_without_a_sign_up_asks_to_start_again(leeds_client):
    response = leeds_client.get("/sms/verify")
    assert response.status_code == 400
    assert "Start again" in response.get_data(as_text=True)


def test_sign_up_is_rate_limited_per_phone(leeds_client, leeds_sender):
    statuses = [sign_up(leeds_client, leeds_sender).status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]
    assert len(leeds_sender.messages_to(PHONE)) == 3


def test_sign_up_is_rate_limited_per_ip(leeds_app, leeds_sender):
    leeds_app.config["SIGNUP_LIMIT_IP"] = "2/hour"
    client = leeds_app.test_client()
    numbers = ["07700 900001", "07700 900002", "07700 900003"]
    statuses = [sign_up(client, leeds_sender, phone=n).status_code for n in numbers]
    assert statuses == [303, 303, 429]


def test_the_per_number_limit_counts_only_codes_actually_sent(leeds_client, leeds_sender):
    # three tries whose texts fail (Twilio busy) leave the number its 3 codes an hour
    leeds_sender.fail_next(SMSError(20429, False, "too many requests"), times=3)
    assert [sign_up(leeds_client, leeds_sender).status_code for _ in range(3)] == [400] * 3
    assert leeds_sender.messages_to(PHONE) == []
    statuses = [sign_up(leeds_client, leeds_sender).status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]
    assert len(leeds_sender.messages_to(PHONE)) == 3


def test_tries_refused_by_the_ip_limit_leave_the_numbers_limit_alone(leeds_app, leeds_sender):
    leeds_app.config["SIGNUP_LIMIT_IP"] = "1/hour"
    attacker = leeds_app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.66"
    assert [sign_up(attacker, leeds_sender).status_code for _ in range(5)] == [303] + [429] * 4
    owner = leeds_app.test_client()  # another address: the number still has 2 codes this hour
    assert [sign_up(owner, leeds_sender).status_code for _ in range(1)] == [303]
    assert len(leeds_sender.messages_to(PHONE)) == 2


def test_verify_is_rate_limited_per_phone(leeds_app, leeds_client, leeds_sender):
    leeds_app.config["VERIFY_LIMIT_PHONE"] = "3/hour"
    sign_up(leeds_client, leeds_sender)
    codes = [confirm(leeds_client, leeds_sender, code="999999").status_code for _ in range(4)]
    assert codes[-1] == 429


def test_sms_failure_when_sending_the_code_is_an_inline_error(leeds_client, leeds_sender):
    leeds_sender.fail_next(SMSError(21211, True, "invalid To"))
    response = sign_up(leeds_client, leeds_sender)
    assert response.status_code == 400
    assert "could not send a text" in response.get_data(as_text=True)


def _answers(app, sender, phone: str) -> list:
    """What a stranger sees signing ``phone`` up, then typing a wrong code: statuses,
    redirects and pages, with the CSRF token and the masked number taken out."""
    client = app.test_client()
    masked = "+44 77** ***" + phone[-3:]

    def seen(response):
        html = re.sub(r'value="[^"]+"', "", response.get_data(as_text=True))
        return response.status_code, response.headers.get("Location"), html.replace(masked, "N")

    e164 = "+44" + phone.replace(" ", "")[1:]
    return [
        seen(sign_up(client, sender, phone=phone)),
        seen(client.get("/sms/verify")),
        seen(confirm(client, sender, phone=e164, code="000000")),
    ]


def test_sign_up_answers_alike_whether_or_not_the_number_already_gets_texts(
    leeds_app, leeds_sender, monkeypatch
):
    import secrets

    monkeypatch.setattr(secrets, "randbelow", lambda n: 123456)  # so 000000 is always wrong
    subscribed(leeds_app.test_client(), leeds_sender)  # 07700 900123 gets texts for 666057
    before = len(leeds_sender.messages_to(PHONE))
    signed_up, stranger = (_answers(leeds_app, leeds_sender, n) for n in ("07700 900123", OTHER))
    assert signed_up == stranger
    assert signed_up[0][:2] == (303, "/sms/verify")
    assert "We have sent a code to N if this number can receive one" in signed_up[1][2]
    assert "That code is not right" in signed_up[2][2] and "4 tries left" in signed_up[2][2]
    # the owner is told, and nothing changes
    [told] = leeds_sender.messages_to(PHONE)[before:]
    assert "already" in told.body and "Reply STOP to stop" in told.body
    assert "1 Abbey Avenue" in told.body and "123456" not in told.body
    assert status_of(leeds_app) == ["active"]


def test_telling_the_owner_counts_against_the_numbers_limit(leeds_app, leeds_sender):
    subscribed(leeds_app.test_client(), leeds_sender)  # its code was the first of 3 an hour
    statuses = [sign_up(leeds_app.test_client(), leeds_sender).status_code for _ in range(3)]
    assert statuses == [303, 303, 429]
    assert len(leeds_sender.messages_to(PHONE)) == 4  # code, confirmation, 2 "already"


# -- unsubscribe ----------------------------------------------------------------------


def test_unsubscribe_get_only_asks_post_stops(leeds_app, leeds_client, leeds_sender):
    html = subscribed(leeds_client, leeds_sender).get_data(as_text=True)
    link = re.search(r'href="http://localhost(/unsubscribe/[^"]+)"', html).group(1)
    # a link scanner fetching the page twice changes nothing
    for _ in range(2):
        page = leeds_client.get(link)
        assert page.status_code == 200
    assert status_of(leeds_app) == ["active"]
    fresh = leeds_app.test_client()  # one click from the text message, no session
    page = fresh.get(link).get_data(as_text=True)
    response = fresh.post(link, data={"csrf_token": csrf_token(page)})
    assert "Text reminders stopped" in response.get_data(as_text=True)
    assert status_of(leeds_app) == ["stopped"]
    assert "already stopped" in fresh.get(link).get_data(as_text=True)


def test_unknown_unsubscribe_token_is_404(leeds_client):
    assert leeds_client.get("/unsubscribe/not-a-token").status_code == 404
    assert leeds_client.get("/unsubscribe/" + "x" * 5000).status_code == 404


# -- Twilio webhooks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "signature"),
    [("wrong-token", None), ("test-auth-token", "bm90IGEgc2lnbmF0dXJl"), ("test-auth-token", "")],
)
def test_forged_twilio_webhooks_are_403(leeds_app, leeds_client, leeds_sender, token, signature):
    subscribed(leeds_client, leeds_sender)
    for path in ("/twilio/inbound", "/twilio/status"):
        response = twilio_post(
            leeds_client,
            path,
            {
                "From": PHONE,
                "Body": "STOP",
                "MessageSid": "SM1",
                "MessageStatus": "failed",
                "ErrorCode": "21610",
                "To": PHONE,
            },
            token=token,
            signature=signature,
        )
        assert response.status_code == 403
    assert status_of(leeds_app) == ["active"]


def test_twilio_webhook_without_configured_token_is_403(leeds_app, leeds_client):
    leeds_app.config["TWILIO_AUTH_TOKEN"] = None
    response = twilio_post(leeds_client, "/twilio/inbound", {"From": PHONE, "Body": "STOP"})
    assert response.status_code == 403


def test_stop_and_start_by_text(leeds_app, leeds_client, leeds_sender):
    subscribed(leeds_client, leeds_sender)
    response = twilio_post(leeds_client, "/twilio/inbound", {"From": PHONE, "Body": " Stop "})
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert status_of(leeds_app) == ["stopped"]
    twilio_post(leeds_client, "/twilio/inbound", {"From": PHONE, "Body": "START"})
    assert status_of(leeds_app) == ["active"]


def test_other_replies_get_help(leeds_client):
    response = twilio_post(
        leeds_client, "/twilio/inbound", {"From": PHONE, "Body": "what is this?"}
    )
    assert response.status_code == 200
    assert "Reply STOP to stop" in response.get_data(as_text=True)


def test_delivery_status_21610_opts_out(leeds_app, leeds_client, leeds_sender):
    subscribed(leeds_client, leeds_sender)
    response = twilio_post(
        leeds_client,
        "/twilio/status",
        {"MessageSid": "SM123", "MessageStatus": "undelivered", "ErrorCode": "21610", "To": PHONE},
    )
    assert response.status_code == 204
    assert status_of(leeds_app) == ["stopped"]


def _text(client, sid: str, body: str):
    return twilio_post(client, "/twilio/inbound", {"From": PHONE, "Body": body, "MessageSid": sid})


def test_a_replayed_stop_does_not_stop_again(leeds_any_app, leeds_sender):
    leeds_app, leeds_client = leeds_any_app, leeds_any_app.test_client()  # SQLite and PostgreSQL
    subscribed(leeds_client, leeds_sender)
    _text(leeds_client, "SM" + "a" * 32, "STOP")
    _text(leeds_client, "SM" + "b" * 32, "START")
    assert status_of(leeds_app) == ["active"]
    replay = _text(leeds_client, "SM" + "a" * 32, "STOP")  # the same signed request, again
    assert replay.status_code == 200 and replay.mimetype == "text/xml"
    assert status_of(leeds_app) == ["active"]


def test_a_stop_without_a_message_sid_changes_nothing(leeds_app, leeds_client, leeds_sender):
    subscribed(leeds_client, leeds_sender)
    _text(leeds_client, "", "STOP")  # no message to remember it by, so no replay to refuse
    assert status_of(leeds_app) == ["active"]


def test_a_replayed_start_does_not_resubscribe(leeds_app, leeds_client, leeds_sender):
    subscribed(leeds_client, leeds_sender)
    for sid, body in [("a", "STOP"), ("b", "START"), ("c", "STOP"), ("b", "START")]:
        _text(leeds_client, "SM" + sid * 32, body)
    assert status_of(leeds_app) == ["stopped"]


def test_a_replayed_status_callback_changes_nothing(leeds_app, leeds_client, leeds_sender):
    subscribed(leeds_client, leeds_sender)
    opted_out = {
        "MessageSid": "SM" + "d" * 32,
        "MessageStatus": "undelivered",
        "SmsStatus": "undelivered",
        "ErrorCode": "21610",
        "To": PHONE,
    }
    assert twilio_post(leeds_client, "/twilio/status", opted_out).status_code == 204
    assert status_of(leeds_app) == ["stopped"]
    _text(leeds_client, "SM" + "e" * 32, "START")
    assert status_of(leeds_app) == ["active"]
    assert twilio_post(leeds_client, "/twilio/status", opted_out).status_code == 204
    assert status_of(leeds_app) == ["active"]


def test_the_same_message_in_a_new_status_is_not_a_replay(leeds_app, leeds_client, leeds_sender):
    subscribed(leeds_client, leeds_sender)
    sid = "SM" + "f" * 32
    sent = {"MessageSid": sid, "MessageStatus": "sent", "To": PHONE}
    twilio_post(leeds_client, "/twilio/status", sent)
    twilio_post(
        leeds_client,
        "/twilio/status",
        {**sent, "MessageStatus": "undelivered", "ErrorCode": "21610"},
    )
    assert status_of(leeds_app) == ["stopped"]


def test_web_unsubscribe_is_not_undone_by_start(leeds_app, leeds_client, leeds_sender):
    html = subscribed(leeds_client, leeds_sender).get_data(as_text=True)
    link = re.search(r'href="http://localhost(/unsubscribe/[^"]+)"', html).group(1)
    page = leeds_client.get(link).get_data(as_text=True)
    leeds_client.post(link, data={"csrf_token": csrf_token(page)})
    twilio_post(leeds_client, "/twilio/inbound", {"From": PHONE, "Body": "START"})
    assert status_of(leeds_app) == ["stopped"]


@pytest.mark.parametrize(
    ("forwarded_host", "prefix"),
    [("other-app.example", ""), ("localhost", "/other-app"), ("localhost:8443", "")],
)
def test_forwarded_host_and_prefix_cannot_choose_the_url_a_signature_is_checked_against(
    tmp_path, leeds_sender, forwarded_host, prefix
):
    """A request Twilio signed for another app's URL, replayed here with X-Forwarded-Host
    and X-Forwarded-Prefix naming that URL, behind one trusted proxy hop."""
    from twilio.request_validator import RequestValidator

    from tests.examples.helpers import load_leeds_sample, make_leeds_app

    app = make_leeds_app(
        f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, leeds_sender, PROXY_FIX_HOPS=1
    )
    load_leeds_sample(app)
    client = app.test_client()
    subscribed(client, leeds_sender)
    params = {"From": PHONE, "Body": "STOP", "MessageSid": "SM" + "1" * 32}
    other = f"https://{forwarded_host}{prefix}/twilio/inbound"
    response = client.post(
        "/twilio/inbound",
        data=params,
        headers={
            "X-Twilio-Signature": RequestValidator("test-auth-token").compute_signature(
                other, params
            ),
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": forwarded_host,
            "X-Forwarded-Prefix": prefix,
        },
    )
    assert response.status_code in (400, 403)
    assert status_of(app) == ["active"]


def test_genuine_webhooks_behind_a_tls_proxy_pass_on_public_base_url(tmp_path, leeds_sender):
    from twilio.request_validator import RequestValidator

    from tests.examples.helpers import load_leeds_sample, make_leeds_app

    app = make_leeds_app(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        tmp_path,
        leeds_sender,
        PROXY_FIX_HOPS=1,
        PUBLIC_BASE_URL="https://bins.example.org",
        SERVER_NAME="bins.example.org",  # the test client's Host, as nginx passes it on
    )
    load_leeds_sample(app)
    client = app.test_client()
    subscribed(client, leeds_sender)
    params = {"From": PHONE, "Body": "STOP", "MessageSid": "SM" + "2" * 32}
    signature = RequestValidator("test-auth-token").compute_signature(
        "https://bins.example.org/twilio/inbound", params
    )
    response = client.post(  # plain http from the proxy, which says the client used https
        "/twilio/inbound",
        data=params,
        headers={"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 200
    assert status_of(app) == ["stopped"]


def test_parallel_wrong_codes_get_five_checks_in_all(database_url, tmp_path, monkeypatch):
    """Guesses sent at once, on real threads, on SQLite and PostgreSQL: each check of a
    code spends one of its 5 tries atomically, so no two guesses can share a try.

    Every guess that reaches the comparison waits there until every other guess has
    either reached it too or been answered: with the tries read and written back
    separately, all of them would be compared; counted atomically, only 5 can be."""
    from civickit.sms import MemorySender
    from tests.examples.helpers import make_leeds_app

    sender = MemorySender()
    app = make_leeds_app(
        database_url, tmp_path, sender, VERIFY_LIMIT_IP="1000/hour", VERIFY_LIMIT_PHONE="1000/hour"
    )
    try:
        _guess_in_parallel(app, sender, monkeypatch)
    finally:
        leeds_engine(app).dispose()


def _guess_in_parallel(app, sender, monkeypatch):
    import threading

    from examples.leeds_bins import models, subscriptions
    from tests.examples.helpers import load_leeds_sample

    load_leeds_sample(app)
    first = app.test_client()
    assert sign_up(first, sender).status_code == 303
    good = sender.last_code_for(PHONE)
    wrong = "000000" if good != "000000" else "111111"
    token = csrf_token(first.get("/sms/verify").get_data(as_text=True))
    cookie = first.get_cookie("session").value

    guesses = 12  # fewer than the connection pool holds (5 + 10 overflow)
    arrived = threading.Condition()
    state = {"here_or_done": 0, "checks": 0}
    real_hash = subscriptions._hash

    def counting_hash(app, subscription_id, code):
        with arrived:
            state["checks"] += 1
            state["here_or_done"] += 1
            arrived.notify_all()
            arrived.wait_for(lambda: state["here_or_done"] >= guesses, timeout=20)
        return real_hash(app, subscription_id, code)

    monkeypatch.setattr(subscriptions, "_hash", counting_hash)
    answers: list[str] = []

    def guess():
        client = app.test_client()
        client.set_cookie("session", cookie)
        try:
            response = client.post("/sms/verify", data={"csrf_token": token, "code": wrong})
            answers.append(response.get_data(as_text=True))
        finally:
            with arrived:
                state["here_or_done"] += 1
                arrived.notify_all()

    threads = [threading.Thread(target=guess) for _ in range(guesses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == guesses
    assert state["checks"] == subscriptions.MAX_ATTEMPTS
    assert sum("not right" in a for a in answers) == subscriptions.MAX_ATTEMPTS - 1
    with leeds_engine(app).connect() as conn:
        assert conn.execute(sa.select(models.verification_codes.c.attempts)).scalar() == 5
    monkeypatch.setattr(subscriptions, "_hash", real_hash)
    assert "Too many wrong codes" in confirm(first, sender, code=good).get_data(as_text=True)
    assert status_of(app) == ["pending"]
