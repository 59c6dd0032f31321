"""Leeds-scale import: 340,000 premises + 3,060,000 jobs, in the published layouts.

civickit's leeds_bins importer (parse + insert into staging + index + atomic swap)
on SQLite and on PostgreSQL, against sqlite-utils ``insert_all`` with its
defaults loading the same rows (parsed by the csv module) into SQLite.
The files are generated once into benchmarks/.data/leeds/.
"""

from __future__ import annotations

import csv
import os
import random
import secrets
from datetime import date, timedelta
from pathlib import Path

from ._common import data_dir, in_child, ratio, table

PREMISES = 340_000
JOBS_PER_PREMISES = 9
NUL = "\x00"
STREETS = [
    "ABBEY AVENUE",
    "ASH ROAD",
    "BEESTON ROAD",
    "PARK AVENUE",
    "KIRKSTALL LANE",
    "OTLEY ROAD",
]
LOCALITIES = ["BRAMLEY", "HEADINGLEY", "BEESTON", "ROUNDHAY", "KIRKSTALL", "ADEL"]


def generate(folder: Path) -> tuple[Path, Path]:
    """Write the two files (generated data, real layouts) unless they exist."""
    folder.mkdir(parents=True, exist_ok=True)
    premises, jobs = folder / "dm_premises.csv", folder / "dm_jobs.csv"
    if premises.exists() and jobs.exists():
        return premises, jobs
    rnd = random.Random(340_000)
    start = date(2026, 12, 1)
    with premises.open("w", encoding="cp1252", newline="") as p, jobs.open("w", newline="") as j:
        for n in range(PREMISES):
            pid = 600_000 + n
            street = STREETS[n % len(STREETS)]
            locality = LOCALITIES[(n // 7) % len(LOCALITIES)]
            saon = f"FLAT {n % 12 + 1}" if n % 9 == 0 else NUL
            outward = f"LS{n % 29 + 1}"
            inward = f"{n % 9 + 1}{chr(65 + n % 26)}{chr(65 + (n // 26) % 26)}"
            p.write(f"{pid},{saon},{n % 300 + 1},{street},{locality},LEEDS,{outward} {inward}\r\n")
            offset = rnd.randrange(14)
            for k in range(JOBS_PER_PREMISES):
                bin_ = ("BLACK", "GREEN", "BROWN")[k % 3]
                day = start + timedelta(days=offset + 14 * (k // 3) + (k % 3) * 2)
                j.write(f"{pid},{bin_},{day:%d/%m/%y}\r\n")
    return premises, jobs


def ours(url: str, premises: Path, jobs: Path) -> int:
    from examples.common import make_engine
    from examples.leeds_bins import importer, models

    engine = make_engine(url)
    models.create_all(engine)
    report = importer.import_files(engine, premises, jobs)
    engine.dispose()
    return report.collections


def sqlite_utils_peer(path: Path, premises: Path, jobs: Path) -> int:
    import sqlite_utils

    db = sqlite_utils.Database(path)
    with premises.open(encoding="cp1252", newline="") as fh:
        rows = (
            {
                "id": int(r[0]),
                "saon": r[1].replace(NUL, ""),
                "paon": r[2].replace(NUL, ""),
                "street": r[3],
                "locality": r[4],
                "town": r[5],
                "postcode": r[6],
            }
            for r in csv.reader(fh)
        )
        db["premises"].insert_all(rows, pk="id")
    with jobs.open(newline="") as fh:
        rows = (
            {"premises_id": int(r[0]), "bin": r[1].lower(), "date": r[2]} for r in csv.reader(fh)
        )
        db["collections"].insert_all(rows)
    db["collections"].create_index(["premises_id", "date", "bin"])
    count = db["collections"].count
    db.close()
    return count


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return url
    except Exception:
        return None


def main() -> None:
    folder = data_dir() / "leeds"
    premises, jobs = generate(folder)
    print(f"{PREMISES:,} premises, {PREMISES * JOBS_PER_PREMISES:,} jobs (generated, real layouts)")
    rows = []
    db = folder / "ours.sqlite3"
    for f in folder.glob("ours.sqlite3*"):
        f.unlink()
    secs, n, mem = in_child(lambda: ours(f"sqlite:///{db}", premises, jobs))
    rows.append(["civickit importer, SQLite (parse+insert+index+swap)", secs, n, mem])
    ours_sqlite = secs

    pg = _postgres_url()
    if pg:
        import sqlalchemy as sa

        schema = "bench_" + secrets.token_hex(4)
        engine = sa.create_engine(pg)
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in pg else "?"
        url = f"{pg}{sep}options=-csearch_path%3D{schema}"
        try:
            secs, n, mem = in_child(lambda: ours(url, premises, jobs))
            rows.append(["civickit importer, PostgreSQL (COPY)", secs, n, mem])
        finally:
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            engine.dispose()
    else:
        print("PostgreSQL not reachable (TEST_DATABASE_URL): skipping its row")

    peer_db = folder / "peer.sqlite3"
    peer_db.unlink(missing_ok=True)
    secs, n, mem = in_child(lambda: sqlite_utils_peer(peer_db, premises, jobs))
    rows.append(["sqlite-utils insert_all (defaults) + index", secs, n, mem])
    peer = secs
    table(["loader", "seconds", "collections", "peak MB"], rows)
    print(
        f"SQLite: civickit takes {ratio(ours_sqlite, peer)} the time of sqlite-utils "
        f"({ratio(peer, ours_sqlite)} faster); goal < 20 s and >= 2x faster"
    )
