"""What both example apps share: web setup, the memory cache, the engine and the import framework.

Kept here once so that leeds_bins and streetwise behave alike: the same JSON
error shape, the same headers, the same GOV.UK-styled page frame, the same
import reports, the same record of the data serving now and its "Sample
data" notice. Nothing here imports an app.
"""

from .cache import MemoryCache
from .db import make_engine
from .importing import (
    ImportFailed,
    ImportLog,
    ImportRecord,
    ImportReport,
    Progress,
    Refused,
    Serving,
    attempt,
    import_log,
)
from .staging import Staging
from .web import (
    ApiError,
    configure,
    init_app,
    json_error,
    made_once,
    new_app,
    show_sample_notice,
)

__all__ = [
    "ApiError",
    "ImportFailed",
    "ImportLog",
    "ImportRecord",
    "ImportReport",
    "MemoryCache",
    "Progress",
    "Refused",
    "Serving",
    "Staging",
    "attempt",
    "configure",
    "import_log",
    "init_app",
    "json_error",
    "made_once",
    "make_engine",
    "new_app",
    "show_sample_notice",
]
