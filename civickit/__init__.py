"""civickit: the plumbing between UK open data and something residents use.

The public API is re-exported here (``civickit.portal``, ``civickit.Postcodes``,
``civickit.Feed``...) and imported lazily, so ``import civickit`` stays fast and
a script that only reads a CSV never loads Twilio or SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # errors
    **dict.fromkeys(
        [
            "CivicKitError",
            "APIError",
            "NotFound",
            "NotAuthorized",
            "ValidationError",
            "RateLimited",
            "ServiceUnavailable",
            "NotAPortalResponse",
            "InvalidPostcode",
            "PostcodeNotFound",
            "NoPostcodeDirectory",
            "CacheUnavailable",
            "InvalidPhoneNumber",
            "DataFormatError",
            "SMSError",
        ],
        "civickit.errors",
    ),
    "HttpClient": "civickit.http",
    # portals
    "portal": "civickit.portals",
    "detect_portal": "civickit.portals",
    "known_portals": "civickit.portals",
    "PortalInfo": "civickit.portals",
    "Portal": "civickit.portals",
    "UnknownPortal": "civickit.errors",
    "CKAN": "civickit.portals.ckan",
    "ArcGIS": "civickit.portals.arcgis",
    "ArcGISHub": "civickit.portals.arcgis",
    "OpenDataSoft": "civickit.portals.opendatasoft",
    "Socrata": "civickit.portals.socrata",
    "Dataset": "civickit.portals.models",
    "Resource": "civickit.portals.models",
    # public APIs
    "normalise": "civickit.postcodes",
    "Postcodes": "civickit.postcodes",
    "Place": "civickit.postcodes",
    "PostcodeDirectory": "civickit.postcodes",
    "PoliceUK": "civickit.police",
    "Crime": "civickit.police",
    "Outcome": "civickit.police",
    # geo
    "distance_m": "civickit.geo",
    "distance_m_many": "civickit.geo",
    "osgb_to_wgs84": "civickit.geo",
    "osgb_to_wgs84_many": "civickit.geo",
    "PointIndex": "civickit.geo",
    # files
    "open_table": "civickit.tabular",
    "datasets": "civickit.datasets",
    # calendar feeds
    "Feed": "civickit.ical",
    "subscribe_links": "civickit.ical",
    # text messages
    "normalise_phone": "civickit.sms",
    "TwilioSender": "civickit.sms",
    "ConsoleSender": "civickit.sms",
    "MemorySender": "civickit.sms",
    "SentMessage": "civickit.sms",
    "keyword": "civickit.sms",
    "verify_twilio_request": "civickit.sms",
    "twilio_webhook": "civickit.sms",
    # databases and reminders
    "make_engine": "civickit.db",
    "Outbox": "civickit.reminders",
    "Reminder": "civickit.reminders",
    "OutboxRow": "civickit.reminders",
    "DispatchReport": "civickit.reminders",
    "make_scheduler": "civickit.reminders",
    "add_job": "civickit.reminders",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'civickit' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # let type checkers and IDEs see the real names
    from . import datasets
    from .db import make_engine
    from .errors import *  # noqa: F403
    from .geo import PointIndex, distance_m, distance_m_many, osgb_to_wgs84, osgb_to_wgs84_many
    from .http import HttpClient
    from .ical import Feed, subscribe_links
    from .police import Crime, Outcome, PoliceUK
    from .portals import Portal, PortalInfo, detect_portal, known_portals, portal
    from .portals.arcgis import ArcGIS, ArcGISHub
    from .portals.ckan import CKAN
    from .portals.models import Dataset, Resource
    from .portals.opendatasoft import OpenDataSoft
    from .portals.socrata import Socrata
    from .postcodes import Place, PostcodeDirectory, Postcodes, normalise
    from .reminders import DispatchReport, Outbox, OutboxRow, Reminder, add_job, make_scheduler
    from .sms import (
        ConsoleSender,
        MemorySender,
        SentMessage,
        TwilioSender,
        keyword,
        normalise_phone,
        twilio_webhook,
        verify_twilio_request,
    )
    from .tabular import open_table
