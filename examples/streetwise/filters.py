"""Template filters: month names and thousands separators."""

from __future__ import annotations

import calendar
import functools
from typing import Any

from flask import Flask


@functools.lru_cache(maxsize=1024)
def month_name(month: str) -> str:
    """'2025-03' -> 'March 2025'."""
    year, m = month.split("-")
    return f"{calendar.month_name[int(m)]} {year}"


def thousands(value: Any, places: int = 0) -> str:
    """``12345.6`` -> ``'12,346'``; a missing figure is a dash."""
    if value is None:
        return "–"
    return f"{value:,.{places}f}"


def lowerfirst(text: str) -> str:
    """'About the Leeds rate' -> 'about the Leeds rate' (names keep their capitals)."""
    return text[:1].lower() + text[1:] if text else text


def init_app(app: Flask) -> None:
    app.add_template_filter(lowerfirst, "lowerfirst")
    app.add_template_filter(month_name, "month_name")
    app.add_template_filter(thousands, "thousands")
