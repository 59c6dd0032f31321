"""Pages residents use: postcode search, address list, bin days, calendar feed."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf

from civickit.ical import Feed, subscribe_links
from examples.common.web import public_url

from .. import importer, lookup
from ..forms import PostcodeForm, SignupForm
from ..state import get_cache, get_import_log
from ..words import LONDON, bank_holiday, bin_label, long_date, today, when

bp = Blueprint("main", __name__)

FEED_WEEKS = 26


@bp.get("/")
def index():
    form = PostcodeForm(formdata=None)
    return render_template("leeds_bins/index.html", form=form)


@bp.get("/addresses")
def addresses():
    form = PostcodeForm(formdata=request.args)
    postcode = form.normalised()
    if postcode is None:
        return render_template("leeds_bins/index.html", form=form, title="Error"), 400
    found = lookup.addresses(current_app, postcode)
    # the demo's sample covers a few postcodes: name them rather than blame the postcode
    sample = get_import_log().serving().is_sample
    covered = lookup.postcodes(current_app) if not found and sample else []
    return render_template(
        "leeds_bins/addresses.html",
        postcode=postcode,
        groups=_groups(found),
        count=len(found),
        sample_postcodes=covered,
        title=f"Addresses in {postcode}",
    )


def _groups(found: list[lookup.Premises]) -> list[tuple[str | None, list[lookup.Premises]]]:
    """Flats and rooms grouped under their building; houses on their own."""
    groups: list[tuple[str | None, list[lookup.Premises]]] = []
    for p in found:
        if p.saon:
            if groups and groups[-1][0] == p.building:
                groups[-1][1].append(p)
            else:
                groups.append((p.building, [p]))
        else:
            groups.append((None, [p]))
    return groups


def feed_url(premises_id: int) -> str:
    return public_url(url_for("main.calendar", premises_id=premises_id))


def calendar_links(premises_id: int, address: str) -> dict[str, str]:
    url = feed_url(premises_id)
    if url.startswith("https://"):
        return subscribe_links(url, name=f"Bin days: {address}")
    # Google and Outlook only subscribe to https:// feeds; offer what works locally.
    return {"webcal": "webcal://" + url.split("://", 1)[1], "download": url}


def _premises_or_404(premises_id: int) -> lookup.Premises:
    found = lookup.premises(current_app, premises_id)
    if found is None:
        abort(404)
    return found


CSRF_MARK = "__leeds_bins_csrf__"


@bp.get("/premises/<int:premises_id>")
def premises(
    premises_id: int, signup_form: SignupForm | None = None, status: int = 200
) -> tuple[str, int]:
    if signup_form is None:
        # The page is the same for everyone but the form's CSRF token: cache it with
        # a marker where the token goes, and put this visitor's token in.
        # The page only changes with the data and the date (both in the key).
        version = get_import_log().serving().version
        key = ("premises", premises_id, today(), version, feed_url(premises_id))
        html = get_cache().get_or_render(
            key, lambda: _render_premises(premises_id, None, mark=True)
        )
        return html.replace(CSRF_MARK, generate_csrf()), 200
    return _render_premises(premises_id, signup_form), status


def _render_premises(
    premises_id: int, signup_form: SignupForm | None, *, mark: bool = False
) -> str:
    place = _premises_or_404(premises_id)
    day = today()
    start, end = lookup.window(day)
    upcoming = lookup.by_day(lookup.collections(current_app, premises_id, start, end))
    holidays = [(d, bank_holiday(d)) for d, _ in upcoming if bank_holiday(d)]
    nexts = [
        {"bin": b, "date": d, "when": when(d, day), "label": bin_label(b)}
        for b, d in lookup.next_per_bin(current_app, premises_id, day)
    ]
    html = render_template(
        "leeds_bins/premises.html",
        place=place,
        nexts=nexts,
        upcoming=upcoming,
        holidays=holidays,
        today=day,
        links=calendar_links(premises_id, place.address),
        form=signup_form or SignupForm(),
        title=place.address,
        bin_label=bin_label,
        long_date=long_date,
        bank_holiday=bank_holiday,
    )
    if mark:
        html = html.replace(generate_csrf(), CSRF_MARK)
    return html


@bp.get("/premises/<int:premises_id>/calendar.ics")
def calendar(premises_id: int) -> ResponseReturnValue:
    day = today()
    # The feed is a function of the data, the date and its URL: answer a matching
    # If-None-Match without building it.
    url = feed_url(premises_id)
    version = get_import_log().serving().version
    etag = hashlib.sha256(f"{premises_id}|{day}|{version}|{url}".encode()).hexdigest()[:32]
    # (not for "*": that matches any feed that exists, so first find out whether this one does)
    if not request.if_none_match.star_tag and etag in request.if_none_match:
        response = current_app.response_class(status=304)
        response.set_etag(etag)
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response
    # (a matching ETag was issued for this premises under this very data version)
    place = _premises_or_404(premises_id)
    body = get_cache().get_or_render(("feed", etag), lambda: _feed(place, day, url))
    response = current_app.response_class(body, mimetype="text/calendar")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Content-Disposition"] = f'inline; filename="bins-{premises_id}.ics"'
    conditional = response.make_conditional(request)
    # make_conditional stamps a Date header, and the server adds its own: keep the server's
    del conditional.headers["Date"]
    return conditional


def _feed(place: lookup.Premises, day: date, url: str) -> bytes:
    premises_id = place.id
    serving = get_import_log().serving().get(importer.KIND)
    updated = serving.imported_at if serving else datetime(2020, 1, 1, tzinfo=LONDON)
    feed = Feed(
        f"Bin days: {place.address}",
        uid=f"premises-{premises_id}@leeds-bins.civickit",
        description="Leeds bin collection days for this address (Leeds City Council open data).",
        refresh=timedelta(hours=12),
        url=url,
    )
    for d, bin_ in lookup.collections(
        current_app, premises_id, day - timedelta(days=14), day + timedelta(weeks=FEED_WEEKS)
    ):
        holiday = bank_holiday(d)
        feed.add_day(
            d,
            bin_label(bin_),
            uid=f"{premises_id}-{d.isoformat()}-{bin_}@leeds-bins.civickit",
            updated=updated,
            description=(
                f"Put your {bin_label(bin_, capital=False)} out for collection."
                + (
                    f" {holiday} is a bank holiday; this is the council's published date."
                    if holiday
                    else ""
                )
            ),
            alarm=-timedelta(hours=5),  # 19:00 the evening before, where apps honour alarms
            categories=("Bins", bin_.title()),
        )
    return feed.to_ical()
