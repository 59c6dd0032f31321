"""Forms (Flask-WTF for CSRF, govuk-frontend-wtf widgets for GOV.UK markup)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovSubmitInput, GovTextInput
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length

from civickit.errors import InvalidPhoneNumber, InvalidPostcode
from civickit.postcodes import normalise
from civickit.sms import normalise_phone

from .subscriptions import CONSENT_TEXT


class PostcodeForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    postcode = StringField(
        "Postcode",
        widget=GovTextInput(),
        description="For example, LS5 3DH",
        validators=[
            InputRequired("Enter a postcode"),
            Length(max=20, message="Enter a real postcode, like LS5 3DH"),
        ],
    )
    submit = SubmitField("Find address", widget=GovSubmitInput())

    def normalised(self) -> str | None:
        """The postcode as ``LS5 3DH``, or None with the field's error set."""
        if not self.validate():
            return None
        try:
            return normalise(self.postcode.data or "")
        except InvalidPostcode as exc:
            reason = f" ({exc.reason})" if exc.reason else ""
            self.postcode.errors = [f"Enter a real postcode, like LS5 3DH{reason}"]
            return None


class SignupForm(FlaskForm):
    phone = StringField(
        "UK mobile number",
        widget=GovTextInput(),
        description="We will text you a 6-digit code to check it is your phone.",
        validators=[
            InputRequired("Enter a UK mobile number"),
            Length(max=40, message="Enter a UK mobile number, like 07700 900123"),
        ],
    )
    consent = BooleanField(
        CONSENT_TEXT,
        widget=GovCheckboxInput(),
        validators=[DataRequired("Tick the box to agree to the texts")],
    )
    submit = SubmitField("Send me a code", widget=GovSubmitInput())

    def normalised_phone(self) -> str | None:
        if not self.validate():
            return None
        try:
            return normalise_phone(self.phone.data or "")
        except InvalidPhoneNumber as exc:
            self.phone.errors = [f"Enter a UK mobile number, like 07700 900123: {exc.reason}"]
            return None


class VerifyForm(FlaskForm):
    code = StringField(
        "Code",
        widget=GovTextInput(),
        description="The 6-digit code in the text we sent. It expires after 10 minutes.",
        validators=[
            InputRequired("Enter the 6-digit code from the text"),
            Length(max=20, message="Enter the 6-digit code from the text"),
        ],
    )
    submit = SubmitField("Confirm", widget=GovSubmitInput())


class ConfirmForm(FlaskForm):
    submit = SubmitField("Stop my text reminders", widget=GovSubmitInput())
