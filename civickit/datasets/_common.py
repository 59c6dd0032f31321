"""What the dataset readers share: error reporting, records, small parsers."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import date, datetime, time
from typing import IO, Any

from ..errors import DataFormatError

OnError = Callable[[DataFormatError], None] | None
#: what every reader accepts: a path, or a binary file object
Source = str | os.PathLike[str] | IO[bytes]


def problem(on_error: OnError, source: str, line: int | None, message: str) -> None:
    """Raise the row's error, or hand it to ``on_error`` and carry on."""
    error = DataFormatError(source, line, message)
    if on_error is None:
        raise error
    on_error(error)


class Record:
    """Mixin for the frozen record dataclasses: ``to_dict()`` with JSON-ready values."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict; dates and times as ISO 8601 text."""
        return {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }


def _plain(value: Any) -> Any:
    if isinstance(value, date | time):
        return value.isoformat(timespec="minutes") if isinstance(value, time) else value.isoformat()
    return value


def fast_factory(cls: type) -> Callable[..., Any]:
    """A constructor for a frozen dataclass that skips its per-field ``__setattr__``.

    A frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, which costs about a microsecond for ten fields; a
    reader making a million records uses this instead. Callers pass every field.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    new = object.__new__
    setdict = object.__setattr__
    args = ", ".join(names)
    body = ", ".join(f"{n!r}: {n}" for n in names)
    namespace: dict[str, Any] = {"new": new, "setdict": setdict, "cls": cls}
    exec(  # a generated function is the fastest way to take the fields by position
        f"def make({args}):\n    obj = new(cls)\n    setdict(obj, '__dict__', {{{body}}})\n"
        "    return obj\n",
        namespace,
    )
    return namespace["make"]


def text_or_none(value: str) -> str | None:
    value = value.strip()
    return value or None


def parse_date(text: str) -> date:
    """A date as UK files write it: 16/01/2015, 16/01/15, 2015-01-16, 16-Jan-15.

    Excel's damage is undone where it can be: ``16-Jan-15`` and serial day
    numbers (``42020``). Two-digit years are 20xx. Raises ``ValueError``.
    """
    text = text.strip()
    if " " in text:  # "16/01/2015 00:00" from a database export
        text = text.split(" ", 1)[0]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    if text.isdigit() and 20000 <= int(text) <= 80000:  # an Excel serial day number
        return date.fromordinal(date(1899, 12, 30).toordinal() + int(text))
    raise ValueError(f"{text!r} is not a date")


_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d", "%d-%b-%y", "%d-%b-%Y", "%d-%m-%Y", "%d.%m.%Y")


def cached(parse: Callable[[str], Any], limit: int = 100_000) -> Callable[[str], Any]:
    """Memoise a parser of few distinct values (dates, times) for speed."""
    memo: dict[str, Any] = {}

    def get(text: str) -> Any:
        try:
            return memo[text]
        except KeyError:
            value = parse(text)
            if len(memo) < limit:
                memo[text] = value
            return value

    get.memo = memo  # type: ignore[attr-defined]
    return get


def normalise_postcode(text: str) -> str | None:
    """``ls53dh`` -> ``LS5 3DH``; text that is not a postcode is kept, upper-cased."""
    text = text.strip()
    if not text:
        return None
    from ..errors import InvalidPostcode
    from ..postcodes import normalise

    try:
        return normalise(text)
    except InvalidPostcode:
        return " ".join(text.upper().split())
