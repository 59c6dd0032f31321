"""The app's tables (SQLAlchemy 2 Core): collisions, hospitals, the crime baselines and the
import log.

Postcodes live in a civickit ``PostcodeDirectory`` file, not here.

Table names carry an ``sw_`` prefix so streetwise can share one PostgreSQL
database with leeds_bins. Imports write into ``*_staging`` copies of these
tables first and swap the rows in one transaction (see :mod:`.importer`).
"""

from __future__ import annotations

import sqlalchemy as sa

from examples.common import import_log

metadata = sa.MetaData()

#: One road traffic collision (not one casualty), from STATS19 or a Leeds RTC file.
collisions = sa.Table(
    "sw_collisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # numbered by the database
    sa.Column("reference", sa.String(40), nullable=False),
    sa.Column("date", sa.Date),
    sa.Column("time", sa.String(5)),
    sa.Column("latitude", sa.Float, nullable=False),
    sa.Column("longitude", sa.Float, nullable=False),
    sa.Column("severity", sa.String(7), nullable=False),  # fatal | serious | slight
    sa.Column("vehicles", sa.Integer),
    sa.Column("casualties", sa.Integer, nullable=False),
    sa.Column("road_class", sa.String(20)),
    sa.Column("source", sa.String(20), nullable=False),  # stats19 | leeds_rtc
    sa.Column("year", sa.SmallInteger),
    # the district today (old codes mapped through districts.SUCCESSORS) and as recorded
    sa.Column("district", sa.String(9)),
    sa.Column("district_recorded", sa.String(9)),
)
sa.Index("ix_sw_collisions_district_year", collisions.c.district, collisions.c.year)

#: One hospital site from NHS ``Hospital.csv``.
hospitals = sa.Table(
    "sw_hospitals",
    metadata,
    sa.Column("code", sa.String(20), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("address", sa.String(400)),
    sa.Column("postcode", sa.String(10)),
    sa.Column("latitude", sa.Float, nullable=False),
    sa.Column("longitude", sa.Float, nullable=False),
    sa.Column("sector", sa.String(60)),
    sa.Column("parent", sa.String(200)),
    sa.Column("phone", sa.String(60)),
    sa.Column("website", sa.String(400)),
)

#: police.uk street crimes inside a district's boundary, per month and category.
crime_baseline = sa.Table(
    "sw_crime_baseline",
    metadata,
    sa.Column("district", sa.String(9), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("category", sa.String(60), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

#: Which district-months have been counted (a month with no crimes still counts).
crime_baseline_months = sa.Table(
    "sw_crime_baseline_months",
    metadata,
    sa.Column("district", sa.String(9), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("crimes", sa.Integer, nullable=False),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
)

#: Every import attempt of each kind and its outcome (the layout both apps share); the
#: newest successful import of each kind is the data serving now.
imports = import_log(metadata, "sw_data_meta")

#: The tables by the kind of data they hold (the importer looks up its live table here).
TABLES: dict[str, sa.Table] = {
    "collisions": collisions,
    "hospitals": hospitals,
    "crime_baseline": crime_baseline,
}


def create_all(engine: sa.Engine) -> None:
    """Create any missing tables (idempotent)."""
    metadata.create_all(engine)
