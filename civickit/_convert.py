"""Small conversions of values read from APIs and headers, shared across the library."""

from __future__ import annotations

from typing import Any

__all__ = ["float_if_present", "int_if_valid"]


def int_if_valid(value: Any) -> int | None:
    """``int(value)``, or None when ``value`` is missing, empty or not an integer.

    For values that are only a hint (a ``Content-Length``, a page size), where
    a bad one should be ignored rather than stop the work.
    """
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def float_if_present(value: Any) -> float | None:
    """``float(value)``, or None when ``value`` is missing or empty.

    A value that is present but not a number raises ``ValueError``: a
    coordinate that cannot be read is an error, not a missing coordinate.
    """
    if value is None or value == "":
        return None
    return float(value)
