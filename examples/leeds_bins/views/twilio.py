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


@bp.post("/inbound")
@twilio_webhook(_token)
def inbound():
    try:
        phone = normalise_phone(request.form.get("From", ""), region=None, mobile_only=False)
    except InvalidPhoneNumber:
        return _twiml()
    word = keyword(request.form.get("Body"))
    if word == "stop":
        stopped = sending.stop_phone(current_app, phone, reason="sms_stop", now=utcnow())
        log.info("STOP from %s: %d subscriptions stopped", mask_phone(phone), stopped)
        return _twiml()  # Twilio sends its own opt-out confirmation
    if word == "start":
        started = sending.restart_phone(current_app, phone)
        log.info("START from %s: %d subscriptions resumed", mask_phone(phone), started)
        return _twiml()
    if word == "help":
        return _twiml()  # Twilio answers HELP itself on long codes
    return _twiml(sending.help_message())


@bp.post("/status")
@twilio_webhook(_token)
def status():
    sid = request.form.get("MessageSid", "")[:64]
    state = request.form.get("MessageStatus", "")[:20]
    error = request.form.get("ErrorCode")
    log.info("delivery status %s: %s%s", sid, state, f" (error {error})" if error else "")
    if error == "21610":
        try:
            phone = normalise_phone(request.form.get("To", ""), region=None, mobile_only=False)
        except InvalidPhoneNumber:
            phone = None
        if phone:
            sending.stop_phone(current_app, phone, reason="provider", now=utcnow())
    return Response(status=204)
