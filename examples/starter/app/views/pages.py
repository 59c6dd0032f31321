"""The page: a postcode form, then the rows near the postcode in a table and on a map."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

import civickit

from ..near import rows_near
from ..state import get_index, get_postcodes

bp = Blueprint("pages", __name__)


@bp.context_processor
def _sample() -> dict[str, bool]:
    # the page says when it shows the bundled sample
    return {"sample": current_app.config["PORTAL"] is None}


@bp.get("/")
def index() -> str | tuple[str, int]:
    """The form; with ``?postcode=``, the rows near it (400 and the error summary for bad input)."""
    text = request.args.get("postcode", "").strip()
    if not text:
        return render_template("index.html")
    try:
        answer = rows_near(text, get_postcodes(), get_index(), current_app.config)
    except civickit.CivicKitError as exc:
        return render_template("index.html", postcode=text, error=exc), 400
    return render_template("index.html", postcode=text, answer=answer)
