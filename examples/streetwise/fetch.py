"""Download the published files the importer reads (``sw import --from-portal``).

* Leeds road traffic accidents: every CSV resource of the Data Mill North
  dataset ``road-traffic-accidents`` (one file per year; ``.xls``/``.xlsx``
  years are listed and skipped, since the reader takes CSV).
* NHS ``Hospital.csv`` from the NHS website's FOI data folder.
* DfT STATS19 collision files, one per year, from data.dft.gov.uk.

Downloads are atomic and skipped when unchanged (ETag / Last-Modified).
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from civickit import portal
from civickit.http import HttpClient

LEEDS_RTC_DATASET = "road-traffic-accidents"
NHS_HOSPITALS_URL = "https://media.nhschoices.nhs.uk/data/foi/Hospital.csv"
STATS19_URL = (
    "https://data.dft.gov.uk/road-accidents-safety-data/"
    "dft-road-casualty-statistics-collision-{year}.csv"
)


def leeds_rtc_files(http: HttpClient, folder: Path, *, progress: bool = False) -> list[Path]:
    """Download the CSV year files of the Leeds RTC dataset; return their paths."""
    ckan = portal("datamillnorth", http=http)
    dataset = ckan.dataset(LEEDS_RTC_DATASET)
    paths = []
    for resource in dataset.resources:
        name = resource.name or resource.id
        if (resource.format or "").strip().lower() != "csv":
            if progress:
                click.echo(
                    f"  skipping {name} ({resource.format or 'no format'}, not CSV)", err=True
                )
            continue
        if "guidance" in name.lower():
            continue
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or resource.id
        if not safe.lower().endswith(".csv"):
            safe += ".csv"
        paths.append(ckan.download(resource, folder / "leeds_rtc" / safe, progress=progress))
    if not paths:
        raise click.ClickException(
            f"Data Mill North's {LEEDS_RTC_DATASET} dataset lists no CSV files just now."
        )
    return paths


def nhs_hospitals(http: HttpClient, folder: Path, *, progress: bool = False) -> Path:
    return http.stream(NHS_HOSPITALS_URL, folder / "Hospital.csv", progress=progress)


def stats19_file(http: HttpClient, folder: Path, year: int, *, progress: bool = False) -> Path:
    url = STATS19_URL.format(year=year)
    return http.stream(url, folder / Path(url).name, progress=progress)
