"""The comparison area: the postcode's own local authority district.

Every figure on an area page is compared with the same figure across the
district the postcode is in, as a rate per km²:

* the district's code comes from the postcode (``codes["admin_district"]``
  from the local postcode directory or postcodes.io); only when neither gives
  one is the point placed in a district by its boundary;
* its land area is the ONS Standard Area Measurement (``AREALHECT / 100``),
  never the area of the drawn polygon (generalised boundaries are up to 18%
  off);
* its boundary, for the map and for counting crimes inside it, is the ONS
  generalised boundary set (the bundled one is the 500 m "BUC" set, December
  2024, all 361 districts; ``sw import --boundaries`` fetches a finer one).

STATS19 files record each collision's district code *at the time*; councils
that merged since appear under old codes. :data:`SUCCESSORS` maps them to the
current ones so that trends join up.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from flask import Flask

from examples.common.cache import settled

from . import state

DATA_DIR = Path(__file__).parent / "data"
BOUNDARIES_FILE = DATA_DIR / "ons_lad_dec_2024_uk_buc.geojson"
AREAS_FILE = DATA_DIR / "ons_sam_lad_dec_2023_uk.csv"
BUNDLED_BOUNDARIES = (
    "ONS Local Authority Districts (December 2024) Boundaries UK BUC (generalised to 500 m)"
)
AREA_SOURCE = "ONS Standard Area Measurements (December 2023), land area"

#: Old district codes (as STATS19 recorded them) -> the code of the district that took
#: them over. The old codes and their names are those in DfT's road safety data guide
#: (2024, field ``local_authority_ons_district``; all but Somerset West and Taunton,
#: 2019-2023, and DfT's own EHEATHROW); the new ones are the December 2024 districts.
#: Tests check both lists, and that every former code in the guide is here but
#: Cheshire's (E10000004, the county split between two councils in 2009). From the
#: reorganisations of 2009 (Cornwall, Durham, Bedfordshire, Northumberland's and
#: Gateshead's recoding), 2014 (Hertfordshire boundary changes), 2018-19 (Scottish
#: recoding; Dorset; Suffolk; Somerset West and Taunton), 2020 (Buckinghamshire),
#: 2021 (Northamptonshire) and 2023 (Cumbria, North Yorkshire, Somerset).
SUCCESSORS: dict[str, str] = {
    # DfT's code for London Airport (Heathrow), which lies in the borough of Hillingdon
    "EHEATHROW": "E09000017",
    # Bedfordshire 2009
    "E07000001": "E06000056",  # Mid Bedfordshire -> Central Bedfordshire
    "E07000002": "E06000055",  # Bedford -> Bedford
    "E07000003": "E06000056",  # South Bedfordshire -> Central Bedfordshire
    # Buckinghamshire 2020
    "E07000004": "E06000060",  # Aylesbury Vale -> Buckinghamshire
    "E07000005": "E06000060",  # Chiltern
    "E07000006": "E06000060",  # South Bucks
    "E07000007": "E06000060",  # Wycombe
    # Cornwall 2009
    "E07000019": "E06000052",  # Caradon -> Cornwall
    "E07000020": "E06000052",  # Carrick
    "E07000021": "E06000052",  # Kerrier
    "E07000022": "E06000052",  # North Cornwall
    "E07000023": "E06000052",  # Penwith
    "E07000024": "E06000052",  # Restormel
    # Cumbria 2023
    "E07000026": "E06000063",  # Allerdale -> Cumberland
    "E07000027": "E06000064",  # Barrow-in-Furness -> Westmorland and Furness
    "E07000028": "E06000063",  # Carlisle -> Cumberland
    "E07000029": "E06000063",  # Copeland -> Cumberland
    "E07000030": "E06000064",  # Eden -> Westmorland and Furness
    "E07000031": "E06000064",  # South Lakeland -> Westmorland and Furness
    # Dorset 2019
    "E06000028": "E06000058",  # Bournemouth -> Bournemouth, Christchurch and Poole
    "E06000029": "E06000058",  # Poole
    "E07000048": "E06000058",  # Christchurch
    "E07000049": "E06000059",  # East Dorset -> Dorset
    "E07000050": "E06000059",  # North Dorset
    "E07000051": "E06000059",  # Purbeck
    "E07000052": "E06000059",  # West Dorset
    "E07000053": "E06000059",  # Weymouth and Portland
    # Durham 2009
    "E07000054": "E06000047",  # Chester-le-Street -> County Durham
    "E07000055": "E06000047",  # Derwentside
    "E07000056": "E06000047",  # Durham
    "E07000057": "E06000047",  # Easington
    "E07000058": "E06000047",  # Sedgefield
    "E07000059": "E06000047",  # Teesdale
    "E07000060": "E06000047",  # Wear Valley
    # recoded after boundary changes
    "E06000048": "E06000057",  # Northumberland
    "E08000020": "E08000037",  # Gateshead
    "E07000097": "E07000242",  # East Hertfordshire
    "E07000100": "E07000240",  # St Albans
    "E07000101": "E07000243",  # Stevenage
    "E07000104": "E07000241",  # Welwyn Hatfield
    "S12000009": "S12000045",  # East Dunbartonshire
    "S12000015": "S12000047",  # Fife
    "S12000024": "S12000048",  # Perth and Kinross
    "S12000043": "S12000049",  # Glasgow City
    "S12000046": "S12000049",  # Glasgow City
    "S12000044": "S12000050",  # North Lanarkshire
    # Northamptonshire 2021
    "E07000150": "E06000061",  # Corby -> North Northamptonshire
    "E07000151": "E06000062",  # Daventry -> West Northamptonshire
    "E07000152": "E06000061",  # East Northamptonshire -> North Northamptonshire
    "E07000153": "E06000061",  # Kettering -> North Northamptonshire
    "E07000154": "E06000062",  # Northampton -> West Northamptonshire
    "E07000155": "E06000062",  # South Northamptonshire -> West Northamptonshire
    "E07000156": "E06000061",  # Wellingborough -> North Northamptonshire
    # North Yorkshire 2023
    "E07000163": "E06000065",  # Craven -> North Yorkshire
    "E07000164": "E06000065",  # Hambleton
    "E07000165": "E06000065",  # Harrogate
    "E07000166": "E06000065",  # Richmondshire
    "E07000167": "E06000065",  # Ryedale
    "E07000168": "E06000065",  # Scarborough
    "E07000169": "E06000065",  # Selby
    # Somerset 2019 and 2023
    "E07000187": "E06000066",  # Mendip -> Somerset
    "E07000188": "E06000066",  # Sedgemoor
    "E07000189": "E06000066",  # South Somerset
    "E07000190": "E06000066",  # Taunton Deane (Somerset West and Taunton, then Somerset)
    "E07000191": "E06000066",  # West Somerset (likewise)
    "E07000246": "E06000066",  # Somerset West and Taunton -> Somerset
    # Suffolk 2019
    "E07000201": "E07000245",  # Forest Heath -> West Suffolk
    "E07000204": "E07000245",  # St Edmundsbury -> West Suffolk
    "E07000205": "E07000244",  # Suffolk Coastal -> East Suffolk
    "E07000206": "E07000244",  # Waveney -> East Suffolk
}


def current_code(code: str | None) -> str | None:
    """The district code today for a code recorded at the time."""
    if code is None:
        return None
    return SUCCESSORS.get(code, code)


Ring = np.ndarray  # (n, 2): latitude, longitude


@dataclass
class District:
    """One local authority district: code, name, land area and boundary."""

    code: str
    name: str
    land_km2: float | None
    polygons: list[list[Ring]] = field(default_factory=list, repr=False)  # outer ring first
    _outline: list[list[list[list[float]]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def country(self) -> str:
        return {"E": "England", "W": "Wales", "S": "Scotland", "N": "Northern Ireland"}.get(
            self.code[:1], "the UK"
        )

    @property
    def police_uk_covers(self) -> bool:
        """police.uk publishes crime for England, Wales and Northern Ireland, not Scotland."""
        return not self.code.startswith("S")

    @cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        """(south, west, north, east)."""
        if not self.polygons:
            return (0.0, 0.0, 0.0, 0.0)
        rings = np.concatenate([p[0] for p in self.polygons])
        return (
            float(rings[:, 0].min()),
            float(rings[:, 1].min()),
            float(rings[:, 0].max()),
            float(rings[:, 1].max()),
        )

    def contains(self, lats: Any, lons: Any) -> np.ndarray:
        """Boolean mask: which points fall inside the boundary (holes excluded)."""
        lats = np.asarray(lats, dtype=float)
        lons = np.asarray(lons, dtype=float)
        result = np.zeros(lats.shape, dtype=bool)
        south, west, north, east = self.bbox
        near = (lats >= south) & (lats <= north) & (lons >= west) & (lons <= east)
        if not near.any():
            return result
        la, lo = lats[near], lons[near]
        inside = np.zeros(la.shape, dtype=bool)
        for polygon in self.polygons:
            for ring in polygon:  # even-odd: a hole flips the points in it back
                inside ^= _in_ring(la, lo, ring)
        result[near] = inside
        return result

    def outline(self) -> list[list[list[list[float]]]]:
        """The boundary as GeoJSON MultiPolygon coordinates ([lon, lat]), rounded to ~1 m."""
        if self._outline is None:
            self._outline = self._rounded_outline()
        return self._outline

    def _rounded_outline(self) -> list[list[list[list[float]]]]:
        return [
            [[[round(float(p[1]), 5), round(float(p[0]), 5)] for p in ring] for ring in polygon]
            for polygon in self.polygons
        ]


def _in_ring(lats: np.ndarray, lons: np.ndarray, ring: Ring) -> np.ndarray:
    """Even-odd ray casting of points against one closed ring."""
    result = np.zeros(lats.shape, dtype=bool)
    lat1, lon1 = ring[:, 0], ring[:, 1]
    lat2, lon2 = np.roll(lat1, 1), np.roll(lon1, 1)
    for a_lat, a_lon, b_lat, b_lon in zip(lat1, lon1, lat2, lon2, strict=True):
        crosses = (a_lat > lats) != (b_lat > lats)
        if not crosses.any():
            continue
        at_lon = (b_lon - a_lon) * (lats - a_lat) / (b_lat - a_lat) + a_lon
        result ^= crosses & (lons < at_lon)
    return result


class Districts:
    """Every district's name, land area and boundary, read once from the ONS files."""

    def __init__(
        self,
        boundaries: str | Path = BOUNDARIES_FILE,
        areas: str | Path = AREAS_FILE,
        boundary_source: str | None = None,
    ) -> None:
        self.boundaries_path = Path(boundaries)
        self.areas_path = Path(areas)
        self.boundary_source = boundary_source or (
            BUNDLED_BOUNDARIES
            if self.boundaries_path.resolve() == BOUNDARIES_FILE.resolve()
            else f"ONS boundaries from {self.boundaries_path.name}"
        )
        self.area_source = AREA_SOURCE
        self._by_code: dict[str, District] = {}
        self._located: dict[tuple[float, float], District | None] = {}
        land = _read_areas(self.areas_path)
        names: dict[str, str] = {}
        for code, name, polygons in _read_boundaries(self.boundaries_path):
            names[code] = name
            self._by_code[code] = District(code, name, land.get(code, (None, name))[0], polygons)
        for code, (km2, name) in land.items():  # a district with an area but no boundary
            self._by_code.setdefault(code, District(code, name, km2))
        self.vintage = _vintage(self.boundaries_path)

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str | None) -> District | None:
        """The district for a code, old codes included (``None`` if unknown)."""
        return self._by_code.get(current_code(code) or "")

    def codes(self) -> list[str]:
        return sorted(self._by_code)

    def locate(self, lat: float, lon: float) -> District | None:
        """The district whose boundary holds a point (for a postcode that names none).

        Answers are kept (a few thousand points): a postcode's centre is asked
        about at every request for it.
        """
        key = (round(lat, 6), round(lon, 6))
        if key in self._located:
            return self._located[key]
        found = self._locate(lat, lon)
        if len(self._located) < 10_000:
            self._located[key] = found
        return found

    def _locate(self, lat: float, lon: float) -> District | None:
        for district in self._by_code.values():
            south, west, north, east = district.bbox
            inside_box = south <= lat <= north and west <= lon <= east
            if inside_box and district.contains([lat], [lon])[0]:
                return district
        return None


def _vintage(path: Path) -> str:
    """'December 2024' from the ONS file name (LAD_DEC_2024 / LAD24), else the file name."""
    import re

    name = path.name.upper()
    months = {
        "JAN": "January", "FEB": "February", "MAR": "March", "APR": "April", "MAY": "May",
        "JUN": "June", "JUL": "July", "AUG": "August", "SEP": "September", "OCT": "October",
        "NOV": "November", "DEC": "December",
    }  # fmt: skip
    found = re.search(r"(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)_?(\d{4})", name)
    if found:
        return f"{months[found.group(1)]} {found.group(2)}"
    return path.name


def get_districts(app: Flask | None = None) -> Districts:
    """The app's districts: a finer imported boundary set (``BOUNDARIES_FILE``) if there is
    one, else the bundled one; read once per app, on first use."""
    return state.kept(_districts, app)


def _districts(app: Flask) -> Districts:
    chosen = Path(app.config.get("BOUNDARIES_FILE") or BOUNDARIES_FILE)
    return settled(Districts(chosen if chosen.is_file() else BOUNDARIES_FILE))


def _read_areas(path: Path) -> dict[str, tuple[float, str]]:
    """code -> (land km², name) from a Standard Area Measurements CSV (``LADnnCD``, ``AREALHECT``)."""
    out: dict[str, tuple[float, str]] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        code_col = next(c for c in fields if c.upper().endswith("CD"))
        name_col = next(c for c in fields if c.upper().endswith("NM"))
        for row in reader:
            out[row[code_col].strip()] = (float(row["AREALHECT"]) / 100, row[name_col].strip())
    return out


def _read_boundaries(path: Path) -> Iterable[tuple[str, str, list[list[Ring]]]]:
    """(code, name, polygons) per feature of an ONS boundaries GeoJSON in EPSG:4326."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for feature in data["features"]:
        props = {k.upper(): v for k, v in feature["properties"].items()}
        code = next(v for k, v in props.items() if k.startswith("LAD") and k.endswith("CD"))
        name = next(v for k, v in props.items() if k.startswith("LAD") and k.endswith("NM"))
        geometry = feature["geometry"]
        parts: Sequence[Any] = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        polygons = [
            [np.asarray(ring, dtype=float)[:, 1::-1].copy() for ring in part] for part in parts
        ]
        yield code, name, polygons
