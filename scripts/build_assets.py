"""Copy the pinned front-end packages from node_modules into each example app's static/vendor.

Run by `make assets`. Apps register what they need in ``VENDOR`` below; the
copy is idempotent and only rewrites files whose bytes changed.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"

# (source under node_modules, destination under static/vendor)
VENDOR = [
    ("govuk-frontend/dist/govuk/govuk-frontend.min.js", "govuk/govuk-frontend.min.js"),
    ("govuk-frontend/dist/govuk/assets/images/favicon.svg", "govuk/assets/images/favicon.svg"),
    ("leaflet/dist/leaflet.js", "leaflet/leaflet.js"),
    ("leaflet/dist/leaflet.css", "leaflet/leaflet.css"),
    ("leaflet/dist/images", "leaflet/images"),
]
APPS = ["leeds_bins", "streetwise"]
# GOV.UK Frontend's Sass, compiled without the GDS Transport font (gov.uk services only).
SCSS = ROOT / "examples" / "common" / "assets" / "civickit.scss"


def copy(src: Path, dest: Path) -> None:
    if src.is_dir():
        for child in src.iterdir():
            copy(child, dest / child.name)
        return
    if dest.exists() and filecmp.cmp(src, dest, shallow=False):
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


def compile_css() -> Path:
    """Compile the shared stylesheet once into a build folder; apps copy it."""
    return sass(SCSS, ROOT / "build" / "assets" / "civickit.css")


def sass(scss: Path, css: Path) -> Path:
    """Compile ``scss`` into ``css`` with GOV.UK Frontend's Sass, unless it is up to date."""
    if css.exists() and css.stat().st_mtime >= scss.stat().st_mtime:
        return css
    css.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(NODE_MODULES / ".bin" / "sass"),
            "--pkg-importer=node",
            "--style=compressed",
            "--no-source-map",
            "--quiet-deps",
            str(scss),
            str(css),
        ],
        check=True,
        cwd=ROOT,
    )
    return css


def main() -> int:
    if not NODE_MODULES.exists():
        print(
            "node_modules is missing: run `npm install` (or `make assets`) first", file=sys.stderr
        )
        return 1
    css = compile_css()
    for app in APPS:
        app_dir = ROOT / "examples" / app
        if not app_dir.exists():
            continue
        vendor = app_dir / "static" / "vendor"
        for src, dest in VENDOR:
            copy(NODE_MODULES / src, vendor / dest)
        copy(css, vendor / "civickit.css")
        copy(
            ROOT / "examples" / "common" / "assets" / "civickit-init.js",
            vendor / "civickit-init.js",
        )
    starter()
    return 0


def starter() -> None:
    """examples/starter, run from the clone: what its own `make assets` builds in a new project."""
    app = ROOT / "examples" / "starter"
    vendor = app / "app" / "static" / "vendor"  # the package app/ serves its static/
    copy(NODE_MODULES / "govuk-frontend/dist/govuk/assets", vendor / "govuk" / "assets")
    for name in ("leaflet.js", "leaflet.css", "images"):
        copy(NODE_MODULES / "leaflet/dist" / name, vendor / "leaflet" / name)
    sass(app / "assets" / "app.scss", vendor / "app.css")


if __name__ == "__main__":
    sys.exit(main())
