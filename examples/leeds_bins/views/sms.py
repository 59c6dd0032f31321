"""Text reminder sign-up: phone number -> 6-digit code -> confirmed; and unsubscribing."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address

from civickit.errors import SMSError
from civickit.sms import mask_phone
from examples.common.web import limit_has_room, public_url, spend_limit

from .. import lookup, sending, subscriptions
from ..forms import ConfirmForm, SignupForm, VerifyForm
from ..models import utcnow
from ..state import get_sender
from . import pages

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)


def _ip_over(kind: str) -> bool:
    """Count this attempt against the caller's address; True when it is over the limit."""
    config_key = f"{kind.upper()}_LIMIT_IP"
    address = get_remote_address()
    return not spend_limit(current_app.config[config_key], "leeds_bins", config_key, address)


def _limited():
    return (
        render_template(
            "common/error.html",
            title="Too many attempts",
            message="You have tried that too many times. Wait an hour and try again.",
        ),
        429,
    )


@bp.post("/premises/<int:premises_id>/sms")
def signup(premises_id: int) -> ResponseReturnValue:
    place = lookup.premises(current_app, premises_id)
    if place is None:
        abort(404)
    form = SignupForm()
    if _ip_over("signup"):
        return _limited()
    phone = form.normalised_phone()
    if phone is None:
        return pages.premises(premises_id, signup_form=form, status=400)
    # The number's own limit counts only texts really sent: tries refused above, or
    # whose text failed, leave it alone (anyone can type anyone's number).
    texts_limit = current_app.config["SIGNUP_LIMIT_PHONE"]
    if not limit_has_room(texts_limit, "leeds_bins", "SIGNUP_LIMIT_PHONE", phone):
        return _limited()
    # Whether the number already gets texts here must not show: the answer is the same
    # either way, and an owner is told by text instead of being sent a code.
    started = subscriptions.start(current_app, phone, premises_id, utcnow())
    if started.already:
        text = sending.already_message(place.address)
    else:
        text = sending.code_message(started.code)
    try:
        get_sender().send(phone, text)
    except SMSError as exc:
        log.warning("could not text %s: %s", mask_phone(phone), exc.code)
        form.phone.errors = [
            "We could not send a text to that number. Check it is a UK mobile number and try again."
        ]
        return pages.premises(premises_id, signup_form=form, status=400)
    spend_limit(texts_limit, "leeds_bins", "SIGNUP_LIMIT_PHONE", phone)
    session["leeds_bins.verify"] = started.subscription.id
    return redirect(url_for("sms.verify"), code=303)


def _pending():
    sub_id = session.get("leeds_bins.verify")
    sub = subscriptions.get(current_app, sub_id) if isinstance(sub_id, int) else None
    if sub is None:
        return None, None
    return sub, lookup.premises(current_app, sub.premises_id)


@bp.route("/sms/verify", methods=["GET", "POST"])
def verify():
    sub, place = _pending()
    if sub is None or place is None:
        return render_template("leeds_bins/sms_start_again.html", title="Start again"), 400
    form = VerifyForm()
    masked = mask_phone(sub.phone)
    if request.method == "POST":
        config = current_app.config
        if _ip_over("verify") or not spend_limit(
            config["VERIFY_LIMIT_PHONE"], "leeds_bins", "VERIFY_LIMIT_PHONE", sub.phone
        ):
            return _limited()
        if form.validate():
            try:
                sub = subscriptions.verify(current_app, sub.id, form.code.data or "", utcnow())
            except subscriptions.CodeProblem as exc:
                form.code.errors = [str(exc)]
            else:
                session.pop("leeds_bins.verify", None)
                unsubscribe_url = _unsubscribe_url(sub.unsubscribe_token)
                reminder_time = current_app.config["REMINDER_TIME"]
                try:
                    get_sender().send(
                        sub.phone,
                        sending.confirmed_message(place.address, reminder_time, unsubscribe_url),
                    )
                except SMSError as exc:  # the sign-up stands; the page says the same
                    log.warning(
                        "confirmation text to %s failed: %s", mask_phone(sub.phone), exc.code
                    )
                return render_template(
                    "leeds_bins/sms_confirmed.html",
                    place=place,
                    masked=masked,
                    unsubscribe_url=unsubscribe_url,
                    reminder_time=reminder_time,
                    title="Text reminders confirmed",
                )
        return (
            render_template(
                "leeds_bins/sms_verify.html", form=form, place=place, masked=masked, title="Error"
            ),
            400,
        )
    return render_template(
        "leeds_bins/sms_verify.html", form=form, place=place, masked=masked, title="Enter your code"
    )


def _unsubscribe_url(token: str) -> str:
    return public_url(url_for("sms.unsubscribe", token=token))


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> str:
    # GET only asks: link scanners and prefetchers must not unsubscribe anyone.
    sub = subscriptions.by_token(current_app, token) if len(token) < 100 else None
    if sub is None:
        abort(404)
    place = lookup.premises(current_app, sub.premises_id)
    address = place.address if place else "this address"
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        subscriptions.unsubscribe(current_app, token, utcnow())
        return render_template(
            "leeds_bins/unsubscribed.html", address=address, title="Text reminders stopped"
        )
    return render_template(
        "leeds_bins/unsubscribe.html",
        form=form,
        address=address,
        masked=mask_phone(sub.phone),
        stopped=sub.status == "stopped",
        title="Stop text reminders",
    )
