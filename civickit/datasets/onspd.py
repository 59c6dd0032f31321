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

__all__ = ["OnspdRelease", "latest_onspd"]

# The ONS Open Geography Portal (geoportal.statistics.gov.uk) is an ArcGIS Hub site: its
# files are ArcGIS Online items, found with ArcGIS Online's search API and downloaded
# from each item's /data address. These three lines are the one place that says where
# the ONSPD is; a portal client for ArcGIS Hub sites can replace them.
ARCGIS_SEARCH_URL = "https://www.arcgis.com/sharing/rest/search"
ARCGIS_ITEM_DATA_URL = "https://www.arcgis.com/sharing/rest/content/items/{id}/data"
ONSPD_QUERY = 'title:"ONS Postcode Directory" AND owner:ONSGeography_data'

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

    Asks ArcGIS Online's search API for the ONS's items titled "ONS Postcode
    Directory", keeps the zip files, and picks the newest release by the month
    and year in the title (by the item's modification date when the title has
    none). Raises :class:`~civickit.errors.NotFound` when there is none.
    """
    http = http or HttpClient()
    params = {
        "q": ONSPD_QUERY,
        "f": "json",
        "num": 100,
        "sortField": "modified",
        "sortOrder": "desc",
    }
    reply = http.get_json(ARCGIS_SEARCH_URL, params=params)
    releases = []
    for item in reply.get("results") or [] if isinstance(reply, dict) else []:
        title, name = str(item.get("title") or ""), str(item.get("name") or "")
        if "postcode directory" not in title.lower() or not name.lower().endswith(".zip"):
            continue  # a map service, a user guide, another product
        modified = item.get("modified")
        when = datetime.fromtimestamp(modified / 1000, UTC) if isinstance(modified, int) else None
        dated = _TITLE_DATE.search(title)
        order = (
            (int(dated.group(2)), _MONTHS[dated.group(1).lower()])
            if dated
            else ((when.year, when.month) if when else (0, 0))
        )
        item_id = str(item["id"])
        release = OnspdRelease(item_id, title, name, ARCGIS_ITEM_DATA_URL.format(id=item_id), when)
        releases.append((order, when or datetime.min.replace(tzinfo=UTC), release))
    if not releases:
        raise NotFound(
            None,
            "no ONS Postcode Directory zip was found on the ONS Open Geography Portal; "
            "download it from geoportal.statistics.gov.uk and run `civickit postcodes build FILE`",
            ARCGIS_SEARCH_URL,
        )
    return max(releases, key=lambda r: (r[0], r[1]))[2]
