"""What the app shows: the bundled sample, or a dataset on an open-data portal.

`civickit new NAME --portal P --dataset D` records P and D in
.copier-answers.yml (copier's record of how the project was made); set
PORTAL and DATASET here instead if you like.
"""

from pathlib import Path

import yaml

_made = Path(__file__).with_name(".copier-answers.yml")
_answers = (yaml.safe_load(_made.read_text(encoding="utf-8")) or {}) if _made.is_file() else {}

# a portal civickit.portal() knows, by name or URL, and a dataset on it;
# None: the bundled sample (data/hospitals.csv, real NHS Hospital.csv rows)
PORTAL: str | None = _answers.get("portal") or None
DATASET: str | None = _answers.get("dataset") or None
TITLE = "Hospitals near a postcode" if PORTAL is None else f"{DATASET} near a postcode"
# the field that names a row (None: the first text field)
NAME_FIELD: str | None = "name" if PORTAL is None else None
# stop reading a portal's table after this many rows
ROW_LIMIT = 5000
# show the rows within this distance of the postcode, nearest first
RADIUS_M = 10_000
MAX_ROWS = 20
