"""What both example apps share: configuration, errors, security headers, layout.

Kept here once so that leeds_bins and streetwise behave alike: the same JSON
error shape, the same headers, the same GOV.UK-styled page frame.
"""

from .cache import PageCache
from .web import ApiError, configure, init_app, json_error, make_engine

__all__ = ["ApiError", "PageCache", "configure", "init_app", "json_error", "make_engine"]
