"""The names ``civickit`` re-exports, and the import paths that must keep working."""

from __future__ import annotations

import subprocess
import sys

import pytest

import civickit

# the public API as the reference docs name it, module by module
DOCUMENTED = {
    "civickit.errors": ["CivicKitError", "APIError", "NotFound", "NotAuthorized",
                        "ValidationError", "RateLimited", "ServiceUnavailable",
                        "NotAPortalResponse", "InvalidPostcode", "PostcodeNotFound",
                        "InvalidPhoneNumber", "DataFormatError", "SMSError", "UnknownPortal",
                        "CacheUnavailable"],
    "civickit.http": ["HttpClient"],
    "civickit.portals": ["portal", "detect_portal", "known_portals", "PortalInfo", "Portal",
                         "UnknownPortal"],
    "civickit.portals.ckan": ["CKAN"],
    "civickit.portals.models": ["Dataset", "Resource"],
    "civickit.postcodes": ["normalise", "Postcodes", "Place"],
    "civickit.police": ["PoliceUK", "Crime"],
    "civickit.geo": ["distance_m", "osgb_to_wgs84", "osgb_to_wgs84_many", "PointIndex"],
    "civickit.ical": ["Feed", "subscribe_links"],
    "civickit.sms": ["normalise_phone", "TwilioSender", "ConsoleSender", "MemorySender",
                     "SentMessage", "keyword", "verify_twilio_request", "twilio_webhook"],
    "civickit.db": ["make_engine"],
    "civickit.reminders": ["Outbox", "DispatchReport", "make_scheduler", "add_job"],
}  # fmt: skip


@pytest.mark.parametrize("name", civickit.__all__)
def test_every_export_resolves_to_its_module_object(name):
    value = getattr(civickit, name)
    if name != "__version__":
        module = __import__(civickit._EXPORTS[name], fromlist=["_"])
        assert value is (module if module.__name__.endswith("." + name) else getattr(module, name))


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, names in DOCUMENTED.items() for n in names]
)
def test_documented_names_are_exported_from_civickit(module, name):
    assert name in civickit.__all__
    assert getattr(civickit, name) is getattr(__import__(module, fromlist=["_"]), name)


def test_import_civickit_is_lazy():
    # a script that reads a CSV never pays for Twilio, SQLAlchemy or APScheduler
    code = (
        "import sys, civickit; civickit.open_table; "
        "print(sorted(m for m in ('twilio', 'sqlalchemy', 'apscheduler', 'numpy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_reminders_names_import_from_where_they_always_did():
    import civickit.reminders as reminders
    from civickit import db
    from civickit.reminders.heartbeat import heartbeat

    for name in ("STATUSES", "Beat", "DispatchReport", "Outbox", "OutboxRow", "Reminder",
                 "Sender", "add_job", "heartbeat", "make_engine", "make_scheduler",
                 "read_heartbeat"):  # fmt: skip
        assert name in reminders.__all__ and hasattr(reminders, name)
    assert reminders.make_engine is db.make_engine
    assert reminders.heartbeat is heartbeat  # what stored "civickit.reminders:heartbeat" jobs name


def test_postcodes_names_import_from_where_they_always_did():
    """civickit.postcodes became a package (issue 21): its public names still import
    from it, latest_onspd and OnspdRelease from their new home in datasets."""
    import civickit.postcodes as postcodes
    from civickit.datasets import onspd

    for name in ("BUILTIN_NAMES", "BULK_LIMIT", "CODE_FIELDS", "DIRECTORY_ENV", "Place",
                 "PostcodeDirectory", "Postcodes", "default_directory", "normalise",
                 "user_directory_path", "latest_onspd", "OnspdRelease"):  # fmt: skip
        assert getattr(postcodes, name) is not None, name
    assert postcodes.latest_onspd is onspd.latest_onspd
    assert postcodes.OnspdRelease is onspd.OnspdRelease
    with pytest.raises(AttributeError, match="no attribute 'ARCGIS_SEARCH_URL'"):
        postcodes.ARCGIS_SEARCH_URL  # noqa: B018 (the old search's own URL: ArcGISHub's now)


def test_dispatch_report_to_dict_like_every_record():
    from civickit.reminders import DispatchReport

    report = DispatchReport(claimed=3, sent=2, retried=1)
    expected = {"claimed": 3, "sent": 2, "failed": 0, "retried": 1, "unknown": 0,
                "skipped": 0, "recovered": 0, "released": 0}  # fmt: skip
    assert report.to_dict() == expected
    assert not hasattr(report, "as_dict")  # one convention: to_dict
