"""What the dataset readers share: error reporting and small parsers."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import IO, Generic, TypeVar

from ..errors import (
    DataFormatError,
    InvalidArgument,
)

V = TypeVar("V")

OnError = Callable[[DataFormatError], None] | None
#: what every reader accepts: a path, or a binary file object
Source = str | os.PathLike[str] | IO[bytes]


def problem(on_error: OnError, source: str, line: int | None, message: str) -> None:
    """Raise the row's error, or hand it to ``on_error`` and carry on."""
    error = DataFormatError(source, line, message)
    if on_error is None:
        raise error
    on_error(error)


#: bad rows in a row at the start of a file after which a reader stops and says, once,
#: what the file looks like instead (a file of another layout would be one error per row)
GIVE_UP_AFTER = 5


class RowProblems:
    """A reader's bad rows, reported through ``on_error`` (or raised when it is ``None``).

    Until the file's first good row the bad ones are held back: if the first
    :data:`GIVE_UP_AFTER` rows are all bad, the file is not of the reader's
    layout, and one :class:`DataFormatError` says what it looks like instead.
    Otherwise the held rows go to ``on_error`` in order once a good row comes
    (the reader calls :meth:`good`, cheap after the first) or the file ends
    (:meth:`flush`).
    """

    __slots__ = ("delimiter", "held", "layout", "on_error", "settled", "source")

    def __init__(self, on_error: OnError, source: str, delimiter: str, layout: str) -> None:
        self.on_error = on_error
        self.source = source
        self.delimiter = delimiter
        self.layout = layout
        self.held: list[tuple[DataFormatError, Sequence[str]]] = []
        #: True once bad rows go straight to ``on_error``
        self.settled = on_error is None

    def __call__(self, line: int | None, message: str, fields: Sequence[str] = ()) -> None:
        if self.settled:
            problem(self.on_error, self.source, line, message)
            return
        self.held.append((DataFormatError(self.source, line, message), fields))
        if len(self.held) >= GIVE_UP_AFTER:
            first, first_fields = self.held[0]
            counts = sorted({len(f) for _, f in self.held})
            many = " or ".join(str(n) for n in counts)
            preview = ", ".join(repr(f.strip()[:20]) for f in first_fields[:4])
            more = ", ..." if len(first_fields) > 4 else ""
            raise DataFormatError(
                self.source,
                None,
                f"this does not look like {self.layout}: its first {len(self.held)} rows "
                f"do not fit ({first.message} on line {first.line}); they have {many} "
                f"fields separated by {self.delimiter!r}, starting {preview}{more}",
            )

    def good(self) -> None:
        """A good row came: report what was held, and every bad row from now on at once."""
        self.settled = True
        self.flush()

    def flush(self) -> None:
        held, self.held = self.held, []
        for error, _ in held:
            if self.on_error is not None:
                self.on_error(error)


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
    raise InvalidArgument(f"{text!r} is not a date")


_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d", "%d-%b-%y", "%d-%b-%Y", "%d-%m-%Y", "%d.%m.%Y")


class Memo(Generic[V]):
    """A parser of few distinct values (dates, times), memoised for speed.

    ``memo(text)`` parses (or recalls) ``text``; a hot loop may read
    ``memo.known.get(text)`` first, which saves a call per row.
    """

    def __init__(self, parse: Callable[[str], V], limit: int = 100_000) -> None:
        self.parse = parse
        self.limit = limit
        #: text -> value, for up to ``limit`` distinct texts
        self.known: dict[str, V] = {}

    def __call__(self, text: str) -> V:
        try:
            return self.known[text]
        except KeyError:
            value = self.parse(text)
            if len(self.known) < self.limit:
                self.known[text] = value
            return value


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
