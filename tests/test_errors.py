"""The error tree: one base class, typed leaves, messages that say what to do."""

from __future__ import annotations

import pytest

from civickit import errors
from civickit.errors import (
    APIError,
    CivicKitError,
    DataFormatError,
    InvalidPhoneNumber,
    InvalidPostcode,
    NotAPortalResponse,
    NotAuthorized,
    NotFound,
    PostcodeNotFound,
    RateLimited,
    ServiceUnavailable,
    SMSError,
    ValidationError,
)


@pytest.mark.parametrize("name", errors.__all__)
def test_every_public_error_is_a_civickit_error(name):
    assert issubclass(getattr(errors, name), CivicKitError)


@pytest.mark.parametrize(
    "cls",
    [NotFound, NotAuthorized, ValidationError, RateLimited, ServiceUnavailable, NotAPortalResponse],
)
def test_api_errors_carry_status_message_url_and_a_hint(cls):
    exc = cls(503, "it broke", "https://example.org/api")
    assert isinstance(exc, APIError)
    assert (exc.status, exc.message, exc.url) == (503, "it broke", "https://example.org/api")
    text = str(exc)
    assert "it broke" in text and "https://example.org/api" in text
    assert text.endswith(cls.hint)


def test_the_tree_drawn_in_the_module_docstring_matches_the_classes():
    doc = errors.__doc__
    for name in errors.__all__:
        assert name in doc, f"{name} is missing from the tree at the top of errors.py"


def test_value_errors_are_also_value_errors():
    assert issubclass(InvalidPostcode, ValueError)
    assert issubclass(InvalidPhoneNumber, ValueError)
    assert "LS1 1UR" in str(InvalidPostcode("zz"))


def test_terminated_postcode_says_when():
    exc = PostcodeNotFound("LS1 1AA", terminated={"year": 2019, "month": 3})
    assert "retired" in str(exc) and "03/2019" in str(exc)
    assert "not a postcode in use" in str(PostcodeNotFound("LS1 9ZZ"))


def test_data_format_error_names_the_file_and_line():
    assert str(DataFormatError("dm_jobs.csv", 12, "bad date '31/02/25'")) == (
        "dm_jobs.csv, line 12: bad date '31/02/25'"
    )


def test_sms_error_kinds_are_explained():
    assert "for good" in str(SMSError(21610, True))
    assert "retry later" in str(SMSError(20429, False))
    ambiguous = SMSError(None, False, "read timeout", ambiguous=True)
    assert ambiguous.ambiguous and "before resending" in str(ambiguous)


def test_rate_limited_keeps_retry_after():
    assert RateLimited(429, "slow down", retry_after=7.0).retry_after == 7.0


def test_validation_error_keeps_field_errors():
    exc = ValidationError(409, "Validation Error", errors={"name": ["Missing value"]})
    assert exc.errors == {"name": ["Missing value"]}
