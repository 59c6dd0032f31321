"""Helpers for the example apps' tests: app factories, sample loading, page scraping, CLI errors.

Fixtures built on these live in ``conftest.py``; tests import the rest from
here (``from tests.examples.helpers import ...``).
"""

from __future__ import annotations

import contextlib
import math
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask
from twilio.request_validator import RequestValidator

# Where the leeds_bins tests set the clock (the ``leeds_clock`` fixture): noon on a
# Thursday, so "tomorrow" is Friday 4 December 2026, and Christmas Day (a Friday bank
# holiday) falls within the next 8 weeks. tests/examples/test_dates.py runs the same journeys
# on other dates, to catch code that reads the real clock instead of this one.
LEEDS_NOW = datetime(2026, 12, 3, 12, 0, tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)

#: The mean Earth radius the apps' distances use: along a meridian, ``R × Δlatitude``.
R = 6_371_008.8


# -- leeds_bins ------------------------------------------------------------------------


def make_leeds_app(database_url: str, tmp_path: Path, sender: Any, **config: Any) -> Flask:
    """leeds_bins on ``database_url``, texting through ``sender``; its today is the clock's."""
    from examples.leeds_bins import create_app

    settings = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "SMS_SENDER": sender,
        "SAMPLE_DIR": str(tmp_path / "sample"),
        "DOWNLOAD_DIR": str(tmp_path / "downloads"),
        "TWILIO_AUTH_TOKEN": "test-auth-token",
        "PUBLIC_BASE_URL": None,
        "REDIS_URL": None,
        **config,
    }
    return create_app(settings)


def load_leeds_sample(app: Flask, today: date | None = None) -> Any:
    """Import the bundled sample, its dates moved forward to ``today`` (the clock's by default)."""
    from examples.leeds_bins import sample_projection, state, words

    day = today or words.today()
    report = sample_projection.load(state.get_engine(app), Path(app.config["SAMPLE_DIR"]), day)
    state.get_import_log(app).forget()
    return report


class SchedulerClock:
    """Move the clock; fire the scheduler's jobs at the times their real triggers give.

    The scheduler and its triggers are made with the clock already at ``start``, as
    a process started then would make them; each job is called as APScheduler calls
    it, with no arguments, and reads the time from the clock.
    """

    def __init__(self, app, clock, start: datetime) -> None:
        from civickit.reminders import make_scheduler
        from examples.leeds_bins import cli, jobs

        clock.move_to(start, tick=False)
        self.clock = clock
        self.scheduler = make_scheduler(app.config["DATABASE_URL"], blocking=False)
        self.jobs = cli.register_jobs(self.scheduler, app.config)
        self.now = start
        self.next = {job.id: job.trigger.get_next_fire_time(None, start) for job in self.jobs}
        self.runs: dict[str, int] = dict.fromkeys(self.next, 0)
        jobs.use_app(app)

    def advance(self, until: datetime, step: timedelta = timedelta(minutes=10)) -> None:
        while self.now < until:
            self.now = min(self.now + step, until)
            self.clock.move_to(self.now, tick=False)
            for job in self.jobs:
                due = self.next[job.id]
                if due is None or due > self.now:
                    continue
                while due is not None and due <= self.now:  # coalesce missed runs into one
                    due = job.trigger.get_next_fire_time(due, self.now)
                self.next[job.id] = due
                job.func()
                self.runs[job.id] += 1

    def stop(self) -> None:
        from examples.leeds_bins import jobs

        jobs.use_app(None)
        self.scheduler._jobstores["default"].engine.dispose()


def leeds_engine(app: Flask) -> Any:
    from examples.leeds_bins import state

    return state.get_engine(app)


def csrf_token(html: str) -> str:
    """The CSRF token in a page's form."""
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


#: The test phone number (an Ofcom drama number) in E.164.
PHONE = "+447700900123"


def sign_up(client: Any, sender: Any, phone: str = "07700 900123", premises: int = 666057) -> Any:
    """Ask for texts about ``premises``: the sign-up form, posted."""
    page = client.get(f"/premises/{premises}").get_data(as_text=True)
    response = client.post(
        f"/premises/{premises}/sms",
        data={"csrf_token": csrf_token(page), "phone": phone, "consent": "y"},
    )
    return response


def confirm(client: Any, sender: Any, phone: str = PHONE, code: str | None = None) -> Any:
    """Type in the code texted to ``phone`` (or ``code``)."""
    page = client.get("/sms/verify").get_data(as_text=True)
    code = code or sender.last_code_for(phone)
    return client.post("/sms/verify", data={"csrf_token": csrf_token(page), "code": code})


def subscribed(
    client: Any, sender: Any, phone: str = "07700 900123", premises: int = 666057
) -> Any:
    """Sign up and confirm, checking each step worked."""
    assert sign_up(client, sender, phone, premises).status_code == 303
    e164 = "+44" + phone.replace(" ", "")[1:]
    response = confirm(client, sender, e164)
    assert "Text reminders confirmed" in response.get_data(as_text=True)
    return response


def status_of(app: Flask, phone: str = PHONE) -> list[str]:
    """The status of each subscription of ``phone``."""
    from examples.leeds_bins import models

    s = models.subscriptions
    with leeds_engine(app).connect() as conn:
        return [r[0] for r in conn.execute(sa.select(s.c.status).where(s.c.phone == phone))]


def subscriptions_token(app: Flask, phone: str = PHONE) -> str:
    """The unsubscribe token of ``phone``'s (first) subscription."""
    from examples.leeds_bins import models

    s = models.subscriptions
    with leeds_engine(app).connect() as conn:
        return conn.execute(sa.select(s.c.unsubscribe_token).where(s.c.phone == phone)).scalar()


def twilio_post(
    client: Any,
    path: str,
    params: dict[str, str],
    token: str = "test-auth-token",
    signature: str | None = None,
) -> Any:
    """POST a webhook as Twilio would, signed with ``token`` (or carrying ``signature``).

    Like Twilio, every request names its message: a fresh ``MessageSid`` is
    added unless ``params`` has one (replays pass the same one again).
    """
    params = {"MessageSid": "SM" + secrets.token_hex(16), **params}
    url = f"http://localhost{path}"
    sig = (
        signature
        if signature is not None
        else RequestValidator(token).compute_signature(url, params)
    )
    return client.post(path, data=params, headers={"X-Twilio-Signature": sig})


# -- streetwise ------------------------------------------------------------------------

#: Hosts the streetwise test app may reach (through ``responses`` only).
STREETWISE_HOSTS = ("data.police.uk", "api.postcodes.io")


def make_streetwise_app(database_url: str, **config: Any) -> Flask:
    """streetwise with no HTTP cache, no retries, short timeouts and no client rate limits.

    Crime comes from the snapshot unless ``CRIME_SOURCE`` says otherwise;
    tests that want police.uk mock it (``responses``) and pass ``"live"``.
    """
    from examples.streetwise import create_app, state
    from examples.streetwise.demo import SAMPLE_POSTCODES

    settings = {
        # civickit's bundled directory of real rows (LS1 3EX, NW1 2BU, CF24 4NP, ...)
        "POSTCODES_DIRECTORY": str(SAMPLE_POSTCODES),
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "REDIS_URL": None,
        "RATELIMIT_ENABLED": False,
        "CRIME_SOURCE": "snapshot",
        "HTTP_CACHE": "",
        "UPSTREAM_RETRIES": 0,
        "UPSTREAM_TIMEOUT": (1, 2),
        "CRIME_MEMO_TTL": 0,  # every request reaches the (mocked) network or HTTP cache
        "PAGE_CACHE_TTL": 0,  # ... and is rendered afresh
        # police.uk's own 15/s limit would only slow the mocked tests down
        "POLICE_RATE": (10_000.0, 10_000.0),
        **config,
    }
    app = create_app(settings)
    http = state.get_http(app)
    for host in STREETWISE_HOSTS:
        http.set_rate_limit(host, 10_000, burst=10_000)
    return app


def streetwise_engine(app: Flask) -> Any:
    from examples.streetwise import state

    return state.get_engine(app)


def load_streetwise_sample(app: Flask) -> Any:
    """Import the bundled sample (collisions and hospitals) into ``app``'s database."""
    from examples.streetwise import importer

    return importer.import_sample(streetwise_engine(app))


def north(centre: tuple[float, float], metres: float) -> tuple[float, float]:
    """The point ``metres`` due north of ``centre`` (south when negative): exact along a meridian."""
    return centre[0] + math.degrees(metres / R), centre[1]


# -- both ------------------------------------------------------------------------------

#: Host headers from the probe in issue 11: malformed, or naming another site.
MALFORMED_HOSTS = [
    "a b",
    "127.0.0.1:99999",
    "évil.example",
    "127.0.0.1:8201@evil.example",
    "localhost:0",
]

#: What each app's URL variables are filled with when every route is visited.
ROUTE_VALUES = {
    "premises_id": 666057,
    "token": "x" * 32,
    "postcode": "LS1 1UR",
    "filename": "missing.css",
}


def hostile_hosts() -> Any:
    """Hypothesis: ``Host`` headers, well-formed or not (any latin-1 text, as WSGI carries)."""
    from hypothesis import strategies as st

    return st.one_of(
        st.sampled_from(
            [
                *MALFORMED_HOSTS,
                "localhost",
                "localhost:8001",
                "127.0.0.1:1",
                "LOCALHOST",
                "[::1]:8001",
                "",
                ":80",
                "localhost:",
                "evil.example",
                "xn--vil-bpa.example",
            ]
        ),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")),
    )


def hostile_dates() -> Any:
    """Hypothesis: date parameters, real dates of any year, near-dates, and junk."""
    from hypothesis import strategies as st

    return st.one_of(
        st.dates().map(date.isoformat),
        st.sampled_from(["9999-12-31", "0001-01-01", "2026-12-03", "2026-02-30", "-1", ""]),
        st.text(max_size=24),
    )


def every_route(app: Flask) -> list[tuple[str, str]]:
    """``(method, path)`` for every route and method of ``app`` (HEAD and OPTIONS aside)."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        path = adapter.build(rule.endpoint, {k: ROUTE_VALUES[k] for k in rule.arguments})
        found += [(m, path) for m in sorted(rule.methods or ()) if m not in ("HEAD", "OPTIONS")]
    return found


def assert_cli_failed(result: Any, *needles: str) -> None:
    """A command failed as users should see it: status 1, plain words, no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for needle in needles:
        assert needle in result.output, (needle, result.output)


def stats19_file(path: Path, rows: list[dict[str, str]]) -> Path:
    """A STATS19 file in the real 2022 layout: its header, and its first real row as the
    template of every row (with the fields given changed)."""
    import csv

    real = Path(__file__).parents[2] / "examples" / "streetwise" / "data"
    with (real / "stats19_collision_2022_london_real.csv").open(encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        template = next(reader)
        header = reader.fieldnames
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        for i, change in enumerate(rows):
            writer.writerow({**template, "accident_index": f"T{i}", **change})
    return path


@contextlib.contextmanager
def throwaway_schema(base_url: str, prefix: str) -> Iterator[str]:
    """A URL of ``base_url``'s PostgreSQL database that works in a new schema, dropped after."""
    schema = prefix + secrets.token_hex(4)
    engine = sa.create_engine(base_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()
