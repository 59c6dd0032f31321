"""Every error a caller can meet is a CivicKitError, and still the ValueError or
TypeError that Python code expects for a bad argument."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import civickit
from civickit.errors import CivicKitError, InvalidArgument, InvalidArgumentType
from civickit.http import TokenBucket


class Place:
    latitude = 53.8
    longitude = -1.55


@pytest.mark.parametrize(
    ("call", "kind", "words"),
    [
        (lambda: civickit.PointIndex([Place()], lat="lat", lon="lon"), ValueError, "no attribute 'lat'"),
        (lambda: civickit.PointIndex([], lat="a", lon="b").within(53.8, -1.5, -5), ValueError, "radius_m"),
        (lambda: civickit.osgb_to_wgs84(float("nan"), 0), ValueError, "cannot convert"),
        (lambda: civickit.CKAN("bad"), ValueError, "is not a URL"),
        (lambda: civickit.Feed("", uid="x@example.org"), ValueError, "needs a name"),
        (
            lambda: civickit.Feed("Bins", uid="x@example.org").add_day(
                "2025-07-04", "Black bin", uid="e@example.org", updated=datetime.now(UTC)
            ),
            TypeError,
            "day must be a datetime.date",
        ),
        (lambda: TokenBucket(0), ValueError, "rate must be a positive number"),
        (lambda: civickit.TwilioSender("", ""), ValueError, "needs an account SID"),
    ],
    ids=["PointIndex-attr", "PointIndex-radius", "osgb", "CKAN", "Feed", "Feed.add_day", "TokenBucket", "TwilioSender"],
)  # fmt: skip
def test_bad_arguments_raise_a_civickit_error_that_is_also_the_python_one(call, kind, words):
    with pytest.raises(CivicKitError, match=words) as caught:
        call()
    assert isinstance(caught.value, kind)
    assert isinstance(caught.value, InvalidArgument if kind is ValueError else InvalidArgumentType)


def test_a_point_index_still_takes_dicts_without_a_coordinate():
    index = civickit.PointIndex(
        [{"lat": 53.8, "lon": -1.55}, {"name": "no place"}], lat="lat", lon="lon"
    )
    assert len(index) == 1 and index.skipped == 1
