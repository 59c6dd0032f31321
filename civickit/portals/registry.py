"""UK open-data portals by short name, each with public evidence of its address and platform.

Evidence keys used in the comments below:

- [CDI] commondataio/dataportals-registry @ 08638ea (2026-08-22), ``data/entities/GB/``:
  one YAML file per portal, recording its software.
- [ODU] dominicm2023/open-data-uk @ 1956f2e (2026-08-21), ``sources.yaml``: a nightly
  harvester whose sources were verified by fetching them.
- [CODE] API calls to the address in other public repositories' code.

Only portals whose address and platform have such evidence are listed; where
the sources disagree (Birmingham's City Observatory, data.glasgow.gov.uk) the
portal is left out and ``civickit.portal(url)`` finds the platform by asking.
None of these has been reached from civickit's test machines: the evidence is
public records, not a civickit run.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._records import Record
from ..errors import InvalidArgument

__all__ = ["PortalInfo", "known_portals", "register"]


@dataclass(frozen=True)
class PortalInfo(Record):
    """A named portal: its short name, title, platform kind, address and publisher."""

    name: str
    title: str
    kind: str
    url: str
    publisher: str


_REGISTRY: dict[str, PortalInfo] = {}


def register(name: str, url: str, *, kind: str, title: str, publisher: str = "") -> PortalInfo:
    """Add (or replace) a named portal."""
    from .detect import KINDS

    if kind not in KINDS:
        raise InvalidArgument(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    info = PortalInfo(name.lower(), title, kind, url.rstrip("/"), publisher)
    _REGISTRY[info.name] = info
    return info


def known_portals() -> dict[str, PortalInfo]:
    """Every registered portal, by name (sorted)."""
    return {name: _REGISTRY[name] for name in sorted(_REGISTRY)}


# -- CKAN and DataPress (DataPress speaks CKAN's Action API) -----------------------------

# [ODU] datamillnorth.org/api/3/action; [CDI] software ckan; CHRISCARLON/herding-cats
# sources.py lists it as DataPressCatalogues.NORTHERN_DATA_MILL.
register(
    "datamillnorth",
    "https://datamillnorth.org",
    kind="ckan",
    title="Data Mill North",
    publisher="Leeds City Council and partners in the North",
)
# alphagov/govuk-developer-docs source/manual/data-gov-uk-2nd-line.html.md uses its
# package_search, package_show and organization_* actions.
register(
    "datagovuk",
    "https://data.gov.uk",
    kind="ckan",
    title="data.gov.uk",
    publisher="Government Digital Service",
)
# [ODU] data.london.gov.uk/api/action; HerdingCats lists it under CKAN and DataPress;
# GLA decision ADD378 awarded the hosting contract to DataPress.
register(
    "london",
    "https://data.london.gov.uk",
    kind="ckan",
    title="London Datastore",
    publisher="Greater London Authority",
)
# [CDI] + [ODU]: CKAN.
register(
    "calderdale",
    "https://dataworks.calderdale.gov.uk",
    kind="ckan",
    title="Calderdale DataWorks",
    publisher="Calderdale Council",
)
# [CDI] + [ODU]: CKAN (York's spatial data is on its Hub site, "york-spatial").
register(
    "york",
    "https://data.yorkopendata.org",
    kind="ckan",
    title="York Open Data",
    publisher="City of York Council",
)
# [CDI] + [ODU]: CKAN.
register(
    "plymouth",
    "https://plymouth.thedata.place",
    kind="ckan",
    title="Plymouth Data Place",
    publisher="Plymouth City Council",
)
# [ODU]: CKAN.
register(
    "brent",
    "https://data.brent.gov.uk",
    kind="ckan",
    title="Brent Open Data",
    publisher="London Borough of Brent",
)
# [CDI]: CKAN.
register(
    "hull",
    "https://opendata.hullcc.gov.uk",
    kind="ckan",
    title="Hull Open Data",
    publisher="Hull City Council",
)
# [CDI]: CKAN.
register(
    "lincolnshire",
    "https://lincolnshire.ckan.io",
    kind="ckan",
    title="Lincolnshire Open Data",
    publisher="Lincolnshire County Council",
)
# [CDI]: DataPress.
register(
    "essex",
    "https://data.essex.gov.uk",
    kind="ckan",
    title="Essex Open Data",
    publisher="Essex County Council",
)
# [CDI]: DataPress (Barnet also has an ArcGIS organisation in [ODU]).
register(
    "barnet",
    "https://open.barnet.gov.uk",
    kind="ckan",
    title="Open Barnet",
    publisher="London Borough of Barnet",
)
# [CDI]: DataPress.
register(
    "surrey",
    "https://surreyi.gov.uk",
    kind="ckan",
    title="Surrey-i",
    publisher="Surrey County Council",
)

# -- ArcGIS Hub ----------------------------------------------------------------------------

# [CDI] geo/opendatabristolgovuk.yaml (endpoints /api/search/v1, /api/feed/dcat-us/1.1.json);
# [ODU] type dcat on /api/feed/dcat-us/1.1.json. Older code used OpenDataSoft on this host:
# the site moved from OpenDataSoft to ArcGIS Hub.
register(
    "bristol",
    "https://opendata.bristol.gov.uk",
    kind="arcgis-hub",
    title="Open Data Bristol",
    publisher="Bristol City Council",
)
# [CDI] + [ODU]: ArcGIS Hub.
register(
    "sheffield",
    "https://sheffield-city-council-open-data-sheffieldcc.hub.arcgis.com",
    kind="arcgis-hub",
    title="Sheffield City Council Open Data",
    publisher="Sheffield City Council",
)
# [CDI] + [ODU]: ArcGIS Hub on the council's own domain; Esri/hub.js's test mock is a
# Wigan dataset.
register(
    "wigan",
    "https://opendata.wigan.gov.uk",
    kind="arcgis-hub",
    title="Wigan Open Data",
    publisher="Wigan Council",
)
# [CDI] + [ODU]: ArcGIS Hub.
register(
    "edinburgh",
    "https://data.edinburghcouncilmaps.info",
    kind="arcgis-hub",
    title="City of Edinburgh Council Open Spatial Data",
    publisher="City of Edinburgh Council",
)
# [CDI] + [ODU]: ArcGIS Hub.
register(
    "bradford",
    "https://spatialdata-cbmdc.hub.arcgis.com",
    kind="arcgis-hub",
    title="Bradford Spatial Data",
    publisher="City of Bradford Metropolitan District Council",
)
# [ODU]: the API host behind www.opendatanottingham.org.uk (a separate front site).
register(
    "nottingham",
    "https://geoportal-nottmcitycouncil.opendata.arcgis.com",
    kind="arcgis-hub",
    title="Nottingham City Council Geoportal",
    publisher="Nottingham City Council",
)
# [CDI]: ArcGIS Hub.
register(
    "manchester",
    "https://open-data-mcr-council.hub.arcgis.com",
    kind="arcgis-hub",
    title="Manchester City Council Open Data",
    publisher="Manchester City Council",
)
# [CDI] + [ODU]: ArcGIS Hub (York's other portal, "york", is CKAN).
register(
    "york-spatial",
    "https://data-cyc.opendata.arcgis.com",
    kind="arcgis-hub",
    title="City of York Council spatial data",
    publisher="City of York Council",
)
# [CDI] and/or [ODU]: ArcGIS Hub on the council's own domain.
register(
    "canterbury",
    "https://opendata.canterbury.gov.uk",
    kind="arcgis-hub",
    title="Canterbury City Council Open Data",
    publisher="Canterbury City Council",
)
# [CDI]: ArcGIS Hub (the registries disagree about data.glasgow.gov.uk itself).
register(
    "glasgow-gis",
    "https://open-data-design-glasgowgis.hub.arcgis.com",
    kind="arcgis-hub",
    title="Glasgow City Council open spatial data",
    publisher="Glasgow City Council",
)

# -- OpenDataSoft --------------------------------------------------------------------------

# [CDI] dataleicestergovuk.yaml (software opendatasoftapi); [ODU] type ods, Explore v2.1.
register(
    "leicester",
    "https://data.leicester.gov.uk",
    kind="opendatasoft",
    title="Leicester Open Data",
    publisher="Leicester City Council",
)
# [CDI]; [CODE] /api/explore/v2.1/.../exports/{csv,geojson,parquet} and
# /api/explore/v2.1/swagger.json calls; stevecrawshaw/opendatasoft DEFAULT_DOMAIN "westofenglandca".
register(
    "westofengland",
    "https://opendata.westofengland-ca.gov.uk",
    kind="opendatasoft",
    title="West of England Open Data",
    publisher="West of England Combined Authority",
)

# -- Socrata -------------------------------------------------------------------------------

# [CDI] opendata/opendatacamdengovuk.yaml (endpoints /api/views, /data.json; its sitemap
# sits in an eu-west-1 Socrata bucket, hence the EU Discovery host); [ODU] harvests
# /data.json; [CODE] /resource/xxxx-xxxx.json calls.
register(
    "camden",
    "https://opendata.camden.gov.uk",
    kind="socrata",
    title="Camden Open Data",
    publisher="London Borough of Camden",
)
# [CDI] only: Socrata.
register(
    "westsussex",
    "https://performance.westsussex.gov.uk",
    kind="socrata",
    title="West Sussex performance data",
    publisher="West Sussex County Council",
)
