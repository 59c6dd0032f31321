"""A small civickit app: a dataset's rows near a postcode, as a page with a map and as JSON.

``create_app()`` is the factory (``flask --app app run``; ``make demo``). What it
shows is in :func:`settings`: the bundled sample of NHS hospitals, or the
dataset `civickit new --portal P --dataset D` recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from flask import Flask
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader

from . import state
from .views import api, pages

# copier's record of how `civickit new` made this project (portal and dataset among it)
ANSWERS = Path(__file__).parent.parent / ".copier-answers.yml"


def settings(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Settings from the environment (``APP_PORTAL``, ...), else as `civickit new` recorded them."""
    made = (yaml.safe_load(ANSWERS.read_text(encoding="utf-8")) or {}) if ANSWERS.is_file() else {}
    found: dict[str, Any] = {
        # a portal civickit.portal() knows, by name or URL, and a dataset on it;
        # None: the bundled sample (app/data/hospitals.csv, real NHS Hospital.csv rows)
        "PORTAL": env.get("APP_PORTAL") or made.get("portal") or None,
        "DATASET": env.get("APP_DATASET") or made.get("dataset") or None,
        # stop reading a portal's table after this many rows
        "ROW_LIMIT": int(env.get("APP_ROW_LIMIT", "5000")),
        # show the rows within this distance of the postcode, nearest first, at most MAX_ROWS
        "RADIUS_M": int(env.get("APP_RADIUS_M", "10000")),
        "MAX_ROWS": int(env.get("APP_MAX_ROWS", "20")),
        # a local postcode directory, asked before postcodes.io (None: see state.init_app)
        "POSTCODES": env.get("CIVICKIT_POSTCODES") or None,
        "OFFLINE": False,  # True: never ask postcodes.io (the tests)
    }
    # unset: a default that depends on the portal, chosen in create_app
    for name in ("TITLE", "NAME_FIELD"):  # NAME_FIELD: the field that names a row
        if env.get(f"APP_{name}"):
            found[name] = env[f"APP_{name}"]
    return found


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the app (``config`` overrides the environment)."""
    app = Flask(__name__)
    app.config.update(settings())
    app.config.update(config or {})
    sample = app.config["PORTAL"] is None
    what = "Hospitals" if sample else app.config["DATASET"]
    app.config.setdefault("TITLE", f"{what} near a postcode")
    app.config.setdefault("NAME_FIELD", "name" if sample else None)  # None: the first text field
    # the app's templates, then GOV.UK Frontend's macros and page template
    app.jinja_loader = ChoiceLoader(
        [
            PackageLoader(__name__),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    )
    state.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    return app
