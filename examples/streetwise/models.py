"""The app's tables: collisions, hospitals, the crime baselines and the import log.

Postcodes live in a civickit ``PostcodeDirectory`` file, not here.

Table names carry an ``sw_`` prefix so streetwise can share one PostgreSQL
database with leeds_bins. Imports write into ``*_staging`` copies of these
tables first and swap the rows in one transaction (see :mod:`.importer`).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from examples.common import import_log


class Base(DeclarativeBase):
    pass


class Collision(Base):
    """One road traffic collision (not one casualty), from STATS19 or a Leeds RTC file."""

    __tablename__ = "sw_collisions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(sa.String(40))
    date: Mapped[date | None] = mapped_column(sa.Date)
    time: Mapped[str | None] = mapped_column(sa.String(5))
    latitude: Mapped[float] = mapped_column(sa.Float)
    longitude: Mapped[float] = mapped_column(sa.Float)
    severity: Mapped[str] = mapped_column(sa.String(7))  # fatal | serious | slight
    vehicles: Mapped[int | None] = mapped_column(sa.Integer)
    casualties: Mapped[int] = mapped_column(sa.Integer)
    road_class: Mapped[str | None] = mapped_column(sa.String(20))
    source: Mapped[str] = mapped_column(sa.String(20))  # stats19 | leeds_rtc
    year: Mapped[int | None] = mapped_column(sa.SmallInteger)
    # the district today (old codes mapped through districts.SUCCESSORS) and as recorded
    district: Mapped[str | None] = mapped_column(sa.String(9))
    district_recorded: Mapped[str | None] = mapped_column(sa.String(9))

    __table_args__ = (sa.Index("ix_sw_collisions_district_year", "district", "year"),)


class Hospital(Base):
    """One hospital site from NHS ``Hospital.csv``."""

    __tablename__ = "sw_hospitals"

    code: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str | None] = mapped_column(sa.String(400))
    postcode: Mapped[str | None] = mapped_column(sa.String(10))
    latitude: Mapped[float] = mapped_column(sa.Float)
    longitude: Mapped[float] = mapped_column(sa.Float)
    sector: Mapped[str | None] = mapped_column(sa.String(60))
    parent: Mapped[str | None] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(60))
    website: Mapped[str | None] = mapped_column(sa.String(400))


class CrimeBaseline(Base):
    """police.uk street crimes inside a district's boundary, per month and category."""

    __tablename__ = "sw_crime_baseline"

    district: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer)


class CrimeBaselineMonth(Base):
    """Which district-months have been counted (a month with no crimes still counts)."""

    __tablename__ = "sw_crime_baseline_months"

    district: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    crimes: Mapped[int] = mapped_column(sa.Integer)
    fetched_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


#: Every import attempt of each kind and its outcome (the layout both apps share); the
#: newest successful import of each kind is the data serving now.
imports = import_log(Base.metadata, "sw_data_meta")


TABLES: dict[str, sa.Table] = {
    kind: Base.metadata.tables[model.__tablename__]
    for kind, model in (
        ("collisions", Collision),
        ("hospitals", Hospital),
        ("crime_baseline", CrimeBaseline),
    )
}


def create_all(engine: sa.Engine) -> None:
    """Create any missing tables (idempotent)."""
    Base.metadata.create_all(engine)
