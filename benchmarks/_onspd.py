"""Generated rows in the ONS Postcode Directory layout, for the postcode benchmarks.

GENERATED data, not real postcodes or places. The columns are the ONSPD field
list as postcodes.io reads it (ideal-postcodes/postcodes.io @ b593f05,
``data/onspd_schema.json``), every field quoted, one row per postcode. The
shape follows the real directory: about 2.7 million rows of which a third are
retired (``doterm`` set), outward codes spread over Great Britain and
Northern Ireland, each sector a cluster of units, GSS codes shared by
neighbours (a district per outward code, a ward and an MSOA per sector, an
LSOA per forty units), grid references converted from the coordinates with
pyproj, and a few rows without a grid reference (Channel Islands and Isle of
Man style: latitude 99.999999, pseudo-codes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: ONSPD columns (postcodes.io ``data/onspd_schema.json`` @ b593f05), in order.
COLUMNS = [
    "pcd", "pcd2", "pcds", "dointr", "doterm", "oscty", "ced", "oslaua", "osward", "parish",
    "usertype", "oseast1m", "osnrth1m", "osgrdind", "oshlthau", "nhser", "ctry", "rgn", "streg",
    "pcon", "eer", "teclec", "ttwa", "pct", "nuts", "statsward", "oa01", "casward", "park",
    "lsoa01", "msoa01", "ur01ind", "oac01", "oa11", "lsoa11", "msoa11", "wz11", "ccg", "bua22",
    "ru11ind", "oac11", "lat", "long", "lep1", "lep2", "pfa", "imd", "calncv", "icb", "oa21",
    "lsoa21", "msoa21", "ru21ind",
]  # fmt: skip

# Postcode areas, by the country their codes are given in.
_AREAS = {
    "E92000001": "AL B BA BB BD BH BL BN BR BS CA CB CH CM CO CR CT CV CW DA DE DH DL DN DT DY "
    "E EC EN EX FY GL GU HA HD HG HP HR HU HX IG IP L LA LE LN LS LU M ME MK N NE NG NN NR NW "
    "OL OX PE PL PO PR RG RH RM S SE SG SK SL SM SN SO SP SR SS ST SW TA TF TN TQ TR TS TW UB "
    "W WA WC WD WF WN WR WS WV YO",
    "W92000004": "CF LD LL NP SA SY",
    "S92000003": "AB DD DG EH FK G HS IV KA KW KY ML PA PH TD ZE",
    "N92000002": "BT",
}
_INWARD = "ABDEFGHJLNPQRSTUWXYZ"
UNITS_PER_SECTOR = 110
NO_GRID_SHARE = 0.002  # rows without a grid reference


def _outward_codes(wanted: int) -> list[tuple[str, str]]:
    """(outward code, country code) pairs: districts 1..k of every area."""
    areas = [(a, c) for c, names in _AREAS.items() for a in names.split()]
    per_area = -(-wanted // len(areas))
    return [(f"{a}{d}", c) for a, c in areas for d in range(1, per_area + 1)]


def generate(path: Path, rows: int, *, seed: int = 2_700_000) -> Path:
    """Write ``rows`` generated postcodes in the ONSPD layout to ``path`` (atomically)."""
    from pyproj import Transformer

    rng = np.random.default_rng(seed)
    sectors = -(-rows // UNITS_PER_SECTOR)
    outwards = _outward_codes(-(-sectors // 10))
    units = [a + b for a in _INWARD for b in _INWARD]
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    tmp = path.with_name(path.name + ".part")
    written = 0
    with tmp.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(f'"{c}"' for c in COLUMNS) + "\r\n")
        lsoa = msoa = ward = 0
        for o, (outward, country) in enumerate(outwards):
            if written >= rows:
                break
            base_lat, base_lon = rng.uniform(50.1, 58.5), rng.uniform(-5.6, 1.7)
            if country == "N92000002":
                base_lat, base_lon = rng.uniform(54.1, 55.2), rng.uniform(-7.9, -5.5)
            lad = f"{country[0]}0{7 if country[0] == 'E' else 6}{o % 100000:06d}"
            for sector in range(10):
                if written >= rows:
                    break
                n = min(UNITS_PER_SECTOR, rows - written)
                ward += 1
                msoa += 1
                lat = base_lat + rng.uniform(-0.03, 0.03) + rng.normal(0, 0.002, n)
                lon = base_lon + rng.uniform(-0.05, 0.05) + rng.normal(0, 0.003, n)
                east, north = to_bng.transform(lon, lat)
                picked = np.sort(rng.choice(len(units), n, replace=False)).tolist()
                retired = (rng.random(n) < 0.37).tolist()
                nogrid = (rng.random(n) < NO_GRID_SHARE).tolist()
                intro = rng.integers(1980, 2024, n)
                ended = np.minimum(intro + rng.integers(1, 30, n), 2024).tolist()
                ended_month = rng.integers(1, 13, n).tolist()
                intro = intro.tolist()
                lat, lon, east, north = lat.tolist(), lon.tolist(), east.tolist(), north.tolist()
                for i in range(n):
                    if i % 40 == 0:
                        lsoa += 1
                    pc = f"{outward} {sector}{units[picked[i]]}"
                    pcd = f"{outward:<4}{pc[-3:]}" if len(outward) < 5 else pc.replace(" ", "")
                    pcd2 = f"{outward:<5}{pc[-3:]}"
                    c = country[0]
                    if nogrid[i]:
                        e = n_ = ""
                        la, lo, grid = "99.999999", "0.000000", "9"
                        ctry = c + "99999999"
                    else:
                        e, n_ = f"{east[i]:.0f}", f"{north[i]:.0f}"
                        la, lo, grid = f"{lat[i]:.6f}", f"{lon[i]:.6f}", "1"
                        ctry = country
                    term = f"{ended[i]}{ended_month[i]:02d}" if retired[i] else ""
                    region = f"E1200000{o % 9 + 1}" if c == "E" else c + "99999999"
                    fields = [
                        pcd,
                        pcd2,
                        pc,
                        f"{intro[i]}{(i % 12) + 1:02d}",
                        term,
                        f"{c}10000{o % 30:03d}" if c == "E" else c + "99999999",
                        f"{c}58000{ward % 1000:03d}" if c == "E" else c + "99999999",
                        lad,
                        f"{c}05{ward:06d}",
                        f"{c}43000{o % 999:03d}",
                        str(i % 2),
                        e,
                        n_,
                        grid,
                        f"{c}18000{o % 10:03d}",
                        f"{c}40000{o % 7:03d}",
                        ctry,
                        region,
                        "0",
                        f"{c}14001{o % 650:03d}",
                        f"{c}15000{o % 12:03d}",
                        f"{c}24000{o % 50:03d}",
                        f"{c}30000{o % 228:03d}",
                        f"{c}16000{o % 150:03d}",
                        f"{c}05{ward:06d}",
                        f"{o % 99:02d}UB{sector:02d}",
                        f"{c}00{lsoa:06d}",
                        f"{o % 99:02d}UB{sector:02d}",
                        c + "99999999",
                        f"{c}01{lsoa:06d}",
                        f"{c}02{msoa:06d}",
                        "5",
                        "3B1",
                        f"{c}00{lsoa:06d}",
                        f"{c}01{lsoa:06d}",
                        f"{c}02{msoa:06d}",
                        f"{c}33{msoa:06d}",
                        f"{c}38000{o % 200:03d}",
                        f"{c}63{o:06d}",
                        "C1",
                        "2B1",
                        la,
                        lo,
                        f"{c}37000{o % 38:03d}",
                        "",
                        f"{c}23000{o % 43:03d}",
                        str((lsoa * 7919) % 32844 + 1),
                        f"{c}56000{o % 21:03d}",
                        f"{c}54000{o % 42:03d}",
                        f"{c}00{lsoa:06d}",
                        f"{c}01{lsoa:06d}",
                        f"{c}02{msoa:06d}",
                        "UN1",
                    ]
                    out.write('"' + '","'.join(fields) + '"\r\n')
                written += n
    tmp.replace(path)
    return path


def postcodes(path: Path) -> list[str]:
    """The ``pcds`` column of a generated file, in file order."""
    import csv

    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        at = next(reader).index("pcds")
        return [row[at] for row in reader]
