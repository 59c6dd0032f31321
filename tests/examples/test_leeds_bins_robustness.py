"""leeds_bins: no input makes a 500, and every CLI command is documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.examples.helpers import MALFORMED_HOSTS, every_route, hostile_dates, hostile_hosts

DOC = Path(__file__).parent.parent.parent / "docs" / "leeds_bins.md"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(max_size=60),
    number=st.integers(min_value=-(2**70), max_value=2**70),
)
def test_no_input_is_a_500(leeds_client, text, number):
    for path, query in [
        ("/addresses", {"postcode": text}),
        ("/api/addresses", {"postcode": text}),
        ("/api/premises/666057/collections", {"from": text, "to": text}),
        (f"/api/premises/{number}/collections", None),
        (f"/premises/{number}", None),
        (f"/premises/{number}/calendar.ics", None),
        ("/unsubscribe/" + (text.replace("/", "") or "x"), None),
    ]:
        response = leeds_client.get(path, query_string=query)
        assert response.status_code < 500, (path, query, response.status_code)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(host=hostile_hosts(), start=hostile_dates(), end=hostile_dates())
def test_no_host_header_or_date_makes_a_5xx_on_any_route(leeds_client, host, start, end):
    for method, path in every_route(leeds_client.application):
        response = leeds_client.open(
            path,
            method=method,
            headers={"Host": host},
            query_string={"from": start, "to": end},
            data={"from": start, "to": end} if method == "POST" else None,
        )
        # (/readyz says 503 by design while not ready: here, no scheduler has run)
        expected = response.status_code < 500 or (path, response.status_code) == ("/readyz", 503)
        assert expected, (host, start, end, method, path, response.status_code)


def test_every_bins_command_is_documented(leeds_app):
    from examples.leeds_bins.cli import bins

    doc = DOC.read_text()
    for name in bins.commands:
        assert f"bins {name}" in doc, f"`bins {name}` is not in docs/leeds_bins.md"


@pytest.mark.parametrize("host", MALFORMED_HOSTS)
def test_malformed_or_foreign_host_headers_are_400_on_every_route(leeds_client, host):
    for method, path in every_route(leeds_client.application):
        response = leeds_client.open(path, method=method, headers={"Host": host})
        assert response.status_code == 400, (host, method, path, response.status_code)
        if path.startswith("/api/"):
            assert response.get_json()["error"]["code"] == "untrusted_host"
