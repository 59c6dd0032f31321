"""Download the published files the importer reads (``sw import --from-portal``).

* Leeds road traffic accidents: every CSV resource of the Data Mill North
  dataset ``road-traffic-accidents`` (one file per year; ``.xls``/``.xlsx``
  years are listed and skipped, since the reader takes CSV).
* NHS ``Hospital.csv`` from the NHS website's FOI data folder.
* DfT STATS19 collision files, one per year, from data.dft.gov.uk.
* ONS district boundaries (generalised to 20 m, "BGC") from the ONS Open
  Geography Portal's ArcGIS service, through ``civickit.portal``.

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


#: The ONS Open Geography Portal's ArcGIS layer of the December 2024 district boundaries,
#: generalised to 20 m (the bundled file is the 500 m "BUC" set of the same vintage).
ONS_BOUNDARIES_URL = (
    "https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services/"
    "Local_Authority_Districts_December_2024_Boundaries_UK_BGC/FeatureServer/0"
)


def district_boundaries(http: HttpClient, dest: Path, url: str = ONS_BOUNDARIES_URL) -> int:
    """Write every district's boundary (``LAD24CD``, ``LAD24NM``, EPSG:4326) as GeoJSON.

    The ArcGIS client asks for ``outSR=4326`` and pages past ``maxRecordCount``.
    """
    import json
    import os

    from civickit.portals.arcgis import ArcGIS

    layer = portal(url, http=http)
    if not isinstance(layer, ArcGIS):  # the ONS service is ArcGIS; anything else is a mistake
        raise click.ClickException(f"{url} is not an ArcGIS layer")
    tmp = dest.with_name(dest.name + ".part.geojson")
    dest.parent.mkdir(parents=True, exist_ok=True)
    written = layer.download(url, tmp, format="geojson", where="1=1")
    features = json.loads(Path(written).read_text(encoding="utf-8")).get("features") or []
    if not features:
        Path(written).unlink(missing_ok=True)
        raise click.ClickException("the ONS boundary service returned no districts just now")
    os.replace(written, dest)
    return len(features)
