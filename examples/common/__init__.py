"""What both example apps share: web setup, the memory cache, the engine and the import framework.

Kept here once so that leeds_bins and streetwise behave alike: the same JSON
error shape, the same headers, the same GOV.UK-styled page frame, the same
import reports. Nothing here imports an app.
"""

from .cache import MemoryCache
from .db import make_engine
from .importing import ImportFailed, ImportReport, Progress, Refused, attempt
from .staging import Staging
from .web import ApiError, configure, init_app, json_error

__all__ = [
    "ApiError",
    "ImportFailed",
    "ImportReport",
    "MemoryCache",
    "Progress",
    "Refused",
    "Staging",
    "attempt",
    "configure",
    "init_app",
    "json_error",
    "make_engine",
]
