import io

import pytest

from civickit.datasets.hospitals import FIELDS, Hospital, read_nhs
from civickit.errors import DataFormatError


def test_real_sample(streetwise_data):
    hospitals = list(read_nhs(streetwise_data / "nhs_hospital_sample.csv"))
    assert len(hospitals) == 41
    lgi = next(h for h in hospitals if h.code == "RR801")
    assert lgi == Hospital(
        code="RR801",
        name="Leeds General Infirmary",
        address="Great George Street, Leeds, West Yorkshire",
        postcode="LS1 3EX",
        latitude=pytest.approx(53.80146, abs=1e-5),
        longitude=pytest.approx(-1.55212, abs=1e-5),
        sector="NHS Sector",
        parent="Leeds Teaching Hospitals NHS Trust",
        phone="0113 243 2799",
        website="http://www.leedsth.nhs.uk",
    )
    assert {h.sector for h in hospitals} <= {"NHS Sector", "Independent Sector"}
    assert "St James's Hospital" in {h.name for h in hospitals}
    assert sum(1 for h in hospitals if h.postcode and h.postcode.startswith("LS")) >= 10
    assert lgi.to_dict()["postcode"] == "LS1 3EX"


def row(**values):
    base = dict.fromkeys(FIELDS, "")
    base.update(
        OrganisationID="1", OrganisationCode="X1", OrganisationType="Hospital",
        SubType="Hospital", Sector="NHS Sector", OrganisationStatus="Visible",
        IsPimsManaged="True", OrganisationName="St Bartholomew’s Hospital ",
        Address1="West Smithfield", City="London", Postcode="ec1a 7be",
        Latitude="51.5175", Longitude="-8.1896319985389709E-2",
    )  # fmt: skip
    base.update(values)
    return "¬".join(base[f] for f in FIELDS)


def nhs_file(rows, header=True):
    lines = (["¬".join(FIELDS)] if header else []) + rows
    return io.BytesIO(("\r\n".join(lines) + "\r\n").encode("cp1252"))


def test_generated_file_quirks():
    # cp1252 ’, trailing spaces, scientific notation, empty fields, a " in an unquoted file
    rows = [row(), row(OrganisationCode="X2", OrganisationName='The "New" Unit',
                    Latitude="", Longitude="")]  # fmt: skip
    first, second = read_nhs(nhs_file(rows))
    assert first.name == "St Bartholomew’s Hospital"
    assert first.longitude == pytest.approx(-0.0818963)
    assert first.postcode == "EC1A 7BE"
    assert first.address == "West Smithfield, London"
    assert (first.phone, first.website) == (None, None)
    assert second.name == 'The "New" Unit'
    assert (second.latitude, second.longitude) == (None, None)


def test_duplicate_sites_under_different_codes_are_both_kept():
    rows = [row(OrganisationCode="NT225"), row(OrganisationCode="O0A1Z")]
    assert [h.code for h in read_nhs(nhs_file(rows))] == ["NT225", "O0A1Z"]


def test_bad_rows_name_file_and_line_and_all_reach_on_error():
    rows = [row(), row(Latitude="north"), "1¬2¬3", row(OrganisationCode=""), row(Latitude="91")]
    errors = []
    assert len(list(read_nhs(nhs_file(rows), on_error=errors.append))) == 1
    assert [e.line for e in errors] == [3, 4, 5, 6]
    assert "'north'" in errors[0].message
    assert errors[1].message == "expected 22 fields, found 3"
    with pytest.raises(DataFormatError, match=r"^<stream>, line 3: coordinate 'north'"):
        list(read_nhs(nhs_file(rows)))


def test_a_comma_file_is_not_hospital_csv():
    with pytest.raises(DataFormatError, match="'¬'"):
        list(read_nhs(io.BytesIO(b"a,b,c\n1,2,3\n")))
