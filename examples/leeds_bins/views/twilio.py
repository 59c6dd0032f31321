"""Twilio webhooks: replies (STOP/START/HELP) and delivery status. Signature-checked."""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, request

from civickit.errors import InvalidPhoneNumber
from civickit.sms import keyword, mask_phone, normalise_phone, twilio_webhook

from .. import sending
from ..models import utcnow

log = logging.getLogger(__name__)
bp = Blueprint("twilio", __name__, url_prefix="/twilio")


def _token() -> str | None:
    return current_app.config.get("TWILIO_AUTH_TOKEN")


def _twiml(message: str | None = None) -> Response:
    body = f"<Message>{escape(message)}</Message>" if message else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        mimetype="text/xml",
    )


def _message_sid() -> str | None:
    sid = request.form.get("MessageSid", "").strip()
    return sid[:64] or None


@bp.post("/inbound")
@twilio_webhook(_token)
def inbound():
    try:
        phone = normalise_phone(request.form.get("From", ""), region=None, mobile_only=False)
    except InvalidPhoneNumber:
        return _twiml()
    word = keyword(request.form.get("Body"))
    # Twilio's signature has no timestamp: each message acts once, so a replayed
    # STOP cannot stop again after a START, nor a replayed START undo a STOP.
    sid = _message_sid()
    if sid is None:
        log.warning("a reply from %s without a MessageSid: ignored", mask_phone(phone))
        return _twiml()
    if word == "stop":
        stopped = sending.stop_phone_once(
            current_app, phone, reason="sms_stop", now=utcnow(), message_sid=sid, event="inbound"
        )
        log.info("STOP from %s (%s): %s", mask_phone(phone), sid, _changed(stopped, "stopped"))
        return _twiml()  # Twilio sends its own opt-out confirmation
    if word == "start":
        started = sending.restart_phone_once(
            current_app, phone, now=utcnow(), message_sid=sid, event="inbound"
        )
        log.info("START from %s (%s): %s", mask_phone(phone), sid, _changed(started, "resumed"))
        return _twiml()
    if word == "help":
        return _twiml()  # Twilio answers HELP itself on long codes
    return _twiml(sending.help_message())


def _changed(count: int | None, what: str) -> str:
    return "a replay, ignored" if count is None else f"{count} subscriptions {what}"


@bp.post("/status")
@twilio_webhook(_token)
def status():
    sid = _message_sid()
    state = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "")[:20]
    error = request.form.get("ErrorCode")
    log.info("delivery status %s: %s%s", sid, state, f" (error {error})" if error else "")
    if error == "21610" and sid:
        try:
            phone = normalise_phone(request.form.get("To", ""), region=None, mobile_only=False)
        except InvalidPhoneNumber:
            phone = None
        if phone:
            stopped = sending.stop_phone_once(
                current_app,
                phone,
                reason="provider",
                now=utcnow(),
                message_sid=sid,
                event=f"status:{state}",
            )
            log.info("opt-out of %s: %s", mask_phone(phone), _changed(stopped, "stopped"))
    return Response(status=204)
