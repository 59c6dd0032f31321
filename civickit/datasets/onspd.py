"""The ONS Postcode Directory (ONSPD): where its newest release is published.

``civickit postcodes fetch`` downloads what :func:`latest_onspd` finds and
builds a :class:`~civickit.postcodes.PostcodeDirectory` from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import NotFound
from ..http import HttpClient
from ..portals.arcgis import ArcGISHub

__all__ = ["OnspdRelease", "latest_onspd"]

# The ONS Open Geography Portal is an ArcGIS Hub site, searched through ArcGISHub (the
# Hub's search API, newest first). Its files are ArcGIS Online items, downloaded from
# each item's /data address, which the Hub's search does not give. These lines are the
# one place that says where the ONSPD is.
ONS_GEOPORTAL_URL = "https://geoportal.statistics.gov.uk"
ONSPD_SEARCH = "ONS Postcode Directory"
ARCGIS_ITEM_DATA_URL = "https://www.arcgis.com/sharing/rest/content/items/{id}/data"
#: the newest items the search answers with (one page): a release comes out every quarter
SEARCH_LIMIT = 100

_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_TITLE_DATE = re.compile(rf"\b({'|'.join(_MONTHS)})\s+(\d{{4}})\b", re.I)


@dataclass(frozen=True)
class OnspdRelease:
    """One ONSPD release on the ONS Open Geography Portal: an ArcGIS Online item."""

    id: str
    title: str
    name: str
    url: str
    modified: datetime | None


def latest_onspd(*, http: HttpClient | None = None) -> OnspdRelease:
    """Find the newest ONS Postcode Directory zip on the ONS Open Geography Portal.

    Searches the portal (an ArcGIS Hub site, through
    :class:`~civickit.portals.ArcGISHub`) for "ONS Postcode Directory", newest
    first, keeps the zip files, and picks the newest release by the month and
    year in the title (by the item's modification date when the title has
    none). Raises :class:`~civickit.errors.NotFound` when there is none.
    """
    with ArcGISHub(ONS_GEOPORTAL_URL, http=http) as hub:
        found = list(hub.search(ONSPD_SEARCH, limit=SEARCH_LIMIT, sortBy="-properties.modified"))
    releases = []
    for item in found:
        title, name = item.title, item.name
        if "postcode directory" not in title.lower() or not name.lower().endswith(".zip"):
            continue  # a map service, a user guide, another product
        when = item.metadata_modified
        dated = _TITLE_DATE.search(title)
        order = (
            (int(dated.group(2)), _MONTHS[dated.group(1).lower()])
            if dated
            else ((when.year, when.month) if when else (0, 0))
        )
        release = OnspdRelease(item.id, title, name, ARCGIS_ITEM_DATA_URL.format(id=item.id), when)
        releases.append((order, when or datetime.min.replace(tzinfo=UTC), release))
    if not releases:
        raise NotFound(
            None,
            "no ONS Postcode Directory zip was found on the ONS Open Geography Portal; "
            "download it from geoportal.statistics.gov.uk and run `civickit postcodes build FILE`",
            ONS_GEOPORTAL_URL,
        )
    return max(releases, key=lambda r: (r[0], r[1]))[2]
