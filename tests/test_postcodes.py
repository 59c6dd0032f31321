"""civickit.postcodes: offline normalise() and the postcodes.io client."""

from __future__ import annotations

import json
import string

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from civickit.errors import (
    InvalidPostcode,
    NotAPortalResponse,
    PostcodeNotFound,
    RateLimited,
    ServiceUnavailable,
    ValidationError,
)
from civickit.http import HttpClient
from civickit.postcodes import Place, Postcodes, normalise

BASE = "https://api.postcodes.io"
#: recorded answers for fixture_json (tests/conftest.py): tests/fixtures/postcodes_io/
FIXTURE_SOURCE = "postcodes_io"


@pytest.fixture
def client():
    return Postcodes(http=HttpClient(backoff=0))


# -- normalise -----------------------------------------------------------------------

REAL = {
    "M1 1AE": "M1 1AE",  # A9
    "b33 8th": "B33 8TH",  # A99
    "cr26xh": "CR2 6XH",  # AA9
    "DN551PT": "DN55 1PT",  # AA99
    "w1a 1hq": "W1A 1HQ",  # A9A
    "ec1a1bb": "EC1A 1BB",  # AA9A
    "ls11ur": "LS1 1UR",
    "  ls1   1ur  ": "LS1 1UR",
    "L S 1 1 U R": "LS1 1UR",
    "ls1\t1ur\n": "LS1 1UR",
    "SW1A 1AA": "SW1A 1AA",
    "sw1a0aa": "SW1A 0AA",
    "BR8 7RE": "BR8 7RE",
    "LS5 3DH": "LS5 3DH",
    "E1W 1UU": "E1W 1UU",
    "n1c 4aa": "N1C 4AA",
    "gir0aa": "GIR 0AA",
    "Gir 0aA": "GIR 0AA",
}


@pytest.mark.parametrize(("text", "expected"), REAL.items())
def test_normalise_real_shapes(text, expected):
    assert normalise(text) == expected


JUNK = [
    "",
    "   ",
    "hello",
    "LS1",  # outward code only
    "1UR",
    "LS1 1U",
    "LS11 1URR",
    "12345",
    "LS1-1UR",
    "LS1 1UR!",
    "QS1 1AA",  # Q never starts a postcode
    "VA1 1AA",
    "XA1 1AA",
    "LI1 1AA",  # I, J, Z are never second
    "LZ1 1AA",
    "W1I 1AA",  # I is not a third-position letter in A9A
    "EC1Z 1AA",  # Z is not a fourth-position letter in AA9A
    "LS1 1CU",  # C, I, K, M, O, V never appear in the inward code
    "LS1 1UV",
    "LS1 AUR",
    "L11 1UR1",
    "GIR 0AB",
    "LS1 1ÜR",
    "ＬＳ１ １ＵＲ",  # full-width letters are not ASCII postcodes
    "ﬀ1 1AA",  # a ligature that upper-cases to "FF"
]


@pytest.mark.parametrize("text", JUNK)
def test_normalise_rejects_junk_with_the_expected_shape(text):
    with pytest.raises(InvalidPostcode) as info:
        normalise(text)
    assert "LS1 1UR" in str(info.value)  # the message shows what a postcode looks like
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [None, 123, b"LS11UR"])
def test_normalise_rejects_non_text(value):
    with pytest.raises(InvalidPostcode):
        normalise(value)


# The grammar again, written independently of the module as exclusions.
LETTERS = string.ascii_uppercase
FIRST = [c for c in LETTERS if c not in "QVX"]
SECOND = [c for c in LETTERS if c not in "IJZ"]
THIRD = list("ABCDEFGHJKPSTUW")
FOURTH = list("ABEHMNPRVWXY")
INWARD = [c for c in LETTERS if c not in "CIKMOV"]
DIGIT = list(string.digits)

SHAPES = {
    "A9": [FIRST, DIGIT],
    "A99": [FIRST, DIGIT, DIGIT],
    "A9A": [FIRST, DIGIT, THIRD],
    "AA9": [FIRST, SECOND, DIGIT],
    "AA99": [FIRST, SECOND, DIGIT, DIGIT],
    "AA9A": [FIRST, SECOND, DIGIT, FOURTH],
}


@st.composite
def canonical_postcodes(draw) -> str:
    shape = draw(st.sampled_from(sorted(SHAPES)))
    outward = "".join(draw(st.sampled_from(chars)) for chars in SHAPES[shape])
    inward = draw(st.sampled_from(DIGIT)) + "".join(draw(st.sampled_from(INWARD)) for _ in "AA")
    return f"{outward} {inward}"


@st.composite
def scruffy(draw, canonical: str) -> str:
    """The same postcode in any case, with any whitespace anywhere."""
    compact = canonical.replace(" ", "")
    space = st.text(alphabet=" \t\n\u00a0", max_size=3)
    parts = [draw(space)]
    for ch in compact:
        parts.append(ch.lower() if draw(st.booleans()) else ch)
        parts.append(draw(space))
    return "".join(parts)


@given(st.data())
def test_any_valid_postcode_in_any_case_and_spacing_normalises(data):
    canonical = data.draw(canonical_postcodes())
    assert normalise(data.draw(scruffy(canonical))) == canonical


@given(canonical_postcodes())
def test_normalise_is_idempotent(canonical):
    once = normalise(canonical.lower().replace(" ", ""))
    assert normalise(once) == once == canonical


@given(st.text(max_size=12))
def test_random_text_normalises_to_itself_or_raises_invalid_postcode(text):
    try:
        result = normalise(text)
    except InvalidPostcode:
        return
    # Anything accepted must be the same letters and digits, canonically spaced.
    assert result.replace(" ", "") == "".join(text.split()).upper()
    assert result[-4] == " " and result.count(" ") == 1


NOT_IN_POSTCODES = list("!-.,/#@£$%&*()[]'\"_+=é€ü\u0130\u00df\uff21\u0661")


@given(
    st.tuples(st.text(max_size=5), st.sampled_from(NOT_IN_POSTCODES), st.text(max_size=5)).map(
        "".join
    )
)
def test_text_with_any_other_character_always_raises_invalid_postcode(text):
    with pytest.raises(InvalidPostcode):
        normalise(text)


@given(
    st.text(alphabet=string.ascii_letters + string.digits).filter(lambda t: not 5 <= len(t) <= 7)
)
def test_wrong_length_always_raises_invalid_postcode(text):
    with pytest.raises(InvalidPostcode):
        normalise(text)


# -- lookup --------------------------------------------------------------------------


def test_lookup_parses_the_real_sample(rsps, client, fixture_json):
    rsps.get(f"{BASE}/postcodes/BR8%207RE", json=fixture_json("lookup_BR87RE_200.json"))
    place = client.lookup("br87re")
    assert place == Place(
        postcode="BR8 7RE",
        latitude=51.411831,
        longitude=0.178871,
        eastings=551626,
        northings=170342,
        country="England",
        region="South East",
        admin_district="Sevenoaks",
        admin_ward="Hextable",
        lsoa="Sevenoaks 001A",
        msoa="Sevenoaks 001",
        pfa="Kent",
        codes=fixture_json("lookup_BR87RE_200.json")["result"]["codes"],
    )
    assert place.codes["admin_district"] == "E07000111"
    assert json.loads(json.dumps(place.to_dict()))["pfa"] == "Kent"
    hash(place)  # frozen and usable as a key despite the codes dict


@pytest.mark.parametrize("text", ["not a postcode", "LS1", "QQ1 1AA", ""])
def test_junk_never_reaches_the_network(rsps, client, text):
    with pytest.raises(InvalidPostcode):
        client.lookup(text)
    assert len(rsps.calls) == 0


def test_invalid_postcode_404_is_invalid_postcode(rsps, client, fixture_json):
    rsps.get(
        f"{BASE}/postcodes/LS1%201UR", status=404, json=fixture_json("invalid_postcode_404.json")
    )
    with pytest.raises(InvalidPostcode):
        client.lookup("LS1 1UR")


def test_postcode_not_found_404_never_existed(rsps, client, fixture_json):
    rsps.get(
        f"{BASE}/postcodes/LS99%209ZZ", status=404, json=fixture_json("lookup_not_found_404.json")
    )
    rsps.get(
        f"{BASE}/terminated_postcodes/LS99%209ZZ",
        status=404,
        json=fixture_json("terminated_not_found_404.json"),
    )
    with pytest.raises(PostcodeNotFound) as info:
        client.lookup("ls999zz")
    assert info.value.postcode == "LS99 9ZZ"
    assert info.value.terminated is None
    assert not isinstance(info.value, InvalidPostcode)


def test_retired_postcode_fetches_termination_details(rsps, client, fixture_json):
    rsps.get(
        f"{BASE}/postcodes/E1W%201UU", status=404, json=fixture_json("lookup_not_found_404.json")
    )
    rsps.get(
        f"{BASE}/terminated_postcodes/E1W%201UU",
        json=fixture_json("terminated_postcodes_E1W1UU_200.json"),
    )
    with pytest.raises(PostcodeNotFound) as info:
        client.lookup("e1w1uu")
    assert info.value.terminated == {
        "postcode": "E1W 1UU",
        "year": 2015,
        "month": 2,
        "latitude": 51.505708,
        "longitude": -0.059541,
    }
    assert "02/2015" in str(info.value)


def test_retired_postcode_uses_inline_termination_details(rsps, client, fixture_json):
    rsps.get(
        f"{BASE}/postcodes/E1W%201UU",
        status=404,
        json=fixture_json("lookup_terminated_inline_404.json"),
    )
    with pytest.raises(PostcodeNotFound) as info:
        client.lookup("E1W 1UU")
    assert info.value.terminated["year"] == 2015
    assert len(rsps.calls) == 1  # no second request needed


def test_server_errors_are_typed(rsps, client):
    rsps.get(f"{BASE}/postcodes/LS1%201UR", status=503, body="")
    with pytest.raises(ServiceUnavailable):
        client.lookup("LS1 1UR")
    assert len(rsps.calls) == 4  # the first try and HttpClient's three retries


def test_html_body_is_not_a_portal_response(rsps, client):
    rsps.get(f"{BASE}/postcodes/LS1%201UR", body="<html><body>Sign in</body></html>")
    with pytest.raises(NotAPortalResponse):
        client.lookup("LS1 1UR")


def test_rate_limited(rsps):
    client = Postcodes(http=HttpClient(backoff=0, retries=0))
    rsps.get(f"{BASE}/postcodes/LS1%201UR", status=429, headers={"Retry-After": "7"}, body="")
    with pytest.raises(RateLimited) as info:
        client.lookup("LS1 1UR")
    assert info.value.retry_after == 7


def test_custom_base_url(rsps, fixture_json):
    client = Postcodes(base_url="http://postcodes.local/", http=HttpClient(backoff=0))
    rsps.get(
        "http://postcodes.local/postcodes/BR8%207RE", json=fixture_json("lookup_BR87RE_200.json")
    )
    assert client.lookup("BR8 7RE").postcode == "BR8 7RE"


# -- lookup_many ---------------------------------------------------------------------


def _postcodes(n: int) -> list[str]:
    out = []
    for district in range(1, 30):
        for sector in range(10):
            for unit in ("AB", "DE", "FG"):
                out.append(f"LS{district} {sector}{unit}")
    return out[:n]


def test_lookup_many_batches_keeps_order_and_skips_junk(rsps, client, fixture_json):
    sample = fixture_json("lookup_BR87RE_200.json")["result"]
    valid = _postcodes(250)
    unknown = {valid[3], valid[120], valid[249]}
    given_ = [pc.lower().replace(" ", "") for pc in valid]  # as a user might type them
    junk = ["not a postcode", "QQ1 1AA"]
    given_.insert(10, junk[0])
    given_.insert(200, junk[1])
    bodies: list[list[str]] = []

    def reply(request):
        sent = json.loads(request.body)["postcodes"]
        bodies.append(sent)
        result = [
            {"query": pc, "result": None if pc in unknown else dict(sample, postcode=pc)}
            for pc in sent
        ]
        return 200, {}, json.dumps({"status": 200, "result": result})

    rsps.add_callback(responses.POST, f"{BASE}/postcodes", callback=reply)
    found = client.lookup_many(given_)

    assert [len(b) for b in bodies] == [100, 100, 50]
    assert [pc for b in bodies for pc in b] == valid
    assert list(found) == given_
    assert found["not a postcode"] is None and found["QQ1 1AA"] is None
    for text, canonical in zip([g for g in given_ if g not in junk], valid, strict=True):
        if canonical in unknown:
            assert found[text] is None
        else:
            assert found[text].postcode == canonical


def test_lookup_many_sends_each_postcode_once(rsps, client, fixture_json):
    sample = fixture_json("lookup_BR87RE_200.json")
    rsps.post(
        f"{BASE}/postcodes",
        json={"status": 200, "result": [{"query": "BR8 7RE", "result": sample["result"]}]},
    )
    found = client.lookup_many(["BR8 7RE", "br87re", " br8 7re "])
    assert json.loads(rsps.calls[0].request.body) == {"postcodes": ["BR8 7RE"]}
    assert [p.postcode for p in found.values()] == ["BR8 7RE"] * 3


def test_lookup_many_of_only_junk_makes_no_request(rsps, client):
    assert client.lookup_many(["junk", ""]) == {"junk": None, "": None}
    assert client.lookup_many([]) == {}
    assert len(rsps.calls) == 0


# -- nearest -------------------------------------------------------------------------


def test_nearest(rsps, client, fixture_json):
    rsps.get(
        f"{BASE}/postcodes",
        json=fixture_json("reverse_geocode_BR87RE_200.json"),
        match=[
            responses.matchers.query_param_matcher(
                {"lat": "51.4118", "lon": "0.1788", "limit": "5", "radius": "250"}
            )
        ],
    )
    places = client.nearest(51.4118, 0.1788, limit=5, radius_m=250)
    assert [p.postcode for p in places] == ["BR8 7RE"]


def test_nearest_with_nothing_in_range_is_empty(rsps, client, fixture_json):
    rsps.get(f"{BASE}/postcodes", json=fixture_json("reverse_geocode_none_200.json"))
    assert client.nearest(60.0, -30.0) == []


@pytest.mark.parametrize(("limit", "radius_m"), [(0, 100), (101, 100), (10, 0), (10, 2001)])
def test_nearest_refuses_out_of_range_arguments(rsps, client, limit, radius_m):
    with pytest.raises(ValidationError):
        client.nearest(51.0, 0.0, limit=limit, radius_m=radius_m)
    assert len(rsps.calls) == 0
