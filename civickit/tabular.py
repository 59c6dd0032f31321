"""Open a published CSV-like file, whatever its encoding, delimiter or header.

:func:`open_table` is the one place civickit works out how a file is written:

* **encoding**: a byte-order mark wins (UTF-8, UTF-16, UTF-32); then UTF-8 is
  tried on a leading sample; then Windows-1252, the usual answer for UK council
  files, unless charset-normalizer recognises a non-Latin script (Cyrillic,
  Greek, ...) in a sample where more than 5% of the characters are high bytes. UTF-16 without a
  BOM is recognised by its NUL pattern. Only the sample is examined, never
  the whole file; a stray byte later in a "UTF-8" file is read as
  Windows-1252 rather than failing.
* **NUL bytes** are removed (Leeds writes a NUL for an empty field).
* **delimiter**: ``,`` ``\\t`` ``;`` ``|`` or ``¬`` (byte 0xAC in Windows-1252,
  NHS ``Hospital.csv``), whichever splits the sample into a steady number of
  fields.
* **header**: detected (a first line with no numbers above columns of
  numbers), or chosen with ``has_header``; ``fieldnames`` names the columns of
  a headerless file.
* **line endings**: CRLF, LF and CR alike; quoted fields may span lines.

Rows come out with the physical line number they start on, so a reader can
say exactly where a bad row is. Files are streamed: memory stays flat however
long the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import DataFormatError

if TYPE_CHECKING:
    from charset_normalizer import CharsetMatch

__all__ = ["DELIMITERS", "Table", "open_table"]

#: Delimiters the sniffer considers, in order of preference when tied.
DELIMITERS = (",", "\t", ";", "|", "¬")

SAMPLE_BYTES = 64 * 1024
_CHUNK = 256 * 1024

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Languages charset-normalizer may report that are written in the Latin
# alphabet: for these, Windows-1252 is the better guess than its own pick
# (it calls NHS Hospital.csv "cp852" because 0xAC is its only non-ASCII byte).
_LATIN_LANGUAGES = {
    "English", "French", "German", "Spanish", "Portuguese", "Italian", "Dutch",
    "Danish", "Swedish", "Norwegian", "Finnish", "Icelandic", "Irish", "Welsh",
    "Scottish Gaelic", "Latin", "Catalan", "Basque", "Galician", "Estonian",
    "Indonesian", "Malay", "Unknown", "",
}  # fmt: skip
_SPREADSHEETS = {
    b"PK\x03\x04": "an .xlsx workbook (a ZIP archive)",
    b"\xd0\xcf\x11\xe0": "an .xls workbook",
}
_NUMERIC = re.compile(r"[-+]?[\d.,:/ E+-]*\d[\d.,:/ E+-]*")
_FALLBACK_ERRORS = "civickit-cp1252"


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not valid in the chosen encoding as Windows-1252."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(_one_byte(bad[i : i + 1]) for i in range(len(bad))), exc.end


def _one_byte(byte: bytes) -> str:
    try:
        return byte.decode("cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined: Latin-1 controls
        return byte.decode("latin-1")


codecs.register_error(_FALLBACK_ERRORS, _cp1252_fallback)


class _Stream(io.RawIOBase):
    """The file's bytes: the sample already read, then the rest, NULs removed."""

    def __init__(self, prefix: bytes, rest: IO[bytes], strip_nul: bool) -> None:
        self._prefix = prefix
        self._rest = rest
        self._strip = strip_nul
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._pending
        while not data:
            if self._prefix:
                data, self._prefix = self._prefix, b""
            else:
                data = self._rest.read(_CHUNK)
                if not data:
                    return 0
            if self._strip and b"\x00" in data:
                data = data.replace(b"\x00", b"")
        size = len(buffer)
        buffer[: min(size, len(data))] = data[:size]
        self._pending = data[size:]
        return min(size, len(data))


class _Feed:
    """Lines for a csv reader: the line in hand, then more of the file only if a field spans lines."""

    __slots__ = ("line", "rest")

    def __init__(self, rest: Iterator[str]) -> None:
        self.line: str | None = None
        self.rest = rest

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        line = self.line
        if line is None:
            return next(self.rest)
        self.line = None
        return line


# what an empty file may still hold: whitespace, NUL bytes, a UTF-8 or UTF-16 byte-order mark
_NOTHING = b" \t\r\n\x00\xef\xbb\xbf\xfe\xff"


class Table:
    """An open table: iterate for ``(line, row)`` pairs, or use :meth:`records`.

    ``row`` is a dict keyed by :attr:`fieldnames` when the columns have names,
    otherwise a list of strings. ``line`` is the 1-based physical line the row
    starts on. Blank lines, and lines made only of delimiters (Excel leaves
    those at the end of a sheet), hold no data and are passed over.

    Attributes: ``source`` (a name for messages), ``encoding``, ``delimiter``,
    ``has_header``, ``fieldnames`` (``None`` when unknown), ``header_line``
    (the header's line number, or ``None``).
    """

    def __init__(
        self,
        binary: IO[bytes],
        *,
        source: str,
        fieldnames: Sequence[str] | None,
        has_header: bool | None,
        delimiter: str | None,
        encoding: str | None,
        quotechar: str | None,
        owns: bool,
    ) -> None:
        self.source = source
        self.quotechar = quotechar
        self._binary = binary
        self._owns = owns
        self._tried: list[str] = []
        sample = binary.read(SAMPLE_BYTES)
        at_end = len(sample) < SAMPLE_BYTES
        if at_end and not sample.strip(_NOTHING):
            self.close()
            raise DataFormatError(source, None, "the file is empty: it holds no rows")
        for magic, what in _SPREADSHEETS.items():
            if sample.startswith(magic):
                self.close()
                raise DataFormatError(
                    source, None, f"this is {what}, not a text file; save it as CSV first"
                )
        try:
            self.encoding = encoding or self._detect_encoding(sample)
            text = self._decode_sample(sample, at_end)
            self.delimiter = delimiter or self._sniff_delimiter(text, at_end, fieldnames)
            lines = self._sample_records(text, at_end)
        except DataFormatError:
            self.close()
            raise
        if has_header is None:
            has_header = _looks_like_header(lines, fieldnames)
        self.has_header = has_header
        self.fieldnames: list[str] | None = list(fieldnames) if fieldnames else None
        self.header_line: int | None = None
        strip_nul = not self.encoding.startswith(("utf-16", "utf-32"))
        raw = _Stream(sample, binary, strip_nul)
        self._text = io.TextIOWrapper(
            io.BufferedReader(raw, _CHUNK),
            encoding=self.encoding,
            errors=_FALLBACK_ERRORS if strip_nul else "strict",
            newline="",
        )
        self._raw_lines: Iterator[str] = iter(self._text)
        if not strip_nul:  # UTF-16/32: NUL bytes belong to the encoding; drop NUL characters
            self._raw_lines = (line.replace("\x00", "") for line in self._raw_lines)
        self._line_no = 0  # physical lines consumed so far
        if has_header:
            records = self._numbered_records()
            first = next(records, None)
            records.close()
            self.header_line, header = first if first else (None, [])
            if self.fieldnames is None:
                self.fieldnames = [name.strip().lstrip("\ufeff") for name in header]
        self._index = {name: i for i, name in enumerate(self.fieldnames or ())}

    # -- detection ---------------------------------------------------------------

    def _detect_encoding(self, sample: bytes) -> str:
        for bom, name in _BOMS:
            if sample.startswith(bom):
                self._tried.append(f"{name} (byte-order mark)")
                return name
        self._tried.append("utf-8-sig")
        utf16 = _utf16_without_bom(sample)
        if utf16:
            self._tried.append(f"{utf16} (NUL pattern, no byte-order mark)")
            return utf16
        clean = sample.replace(b"\x00", b"")
        try:
            codecs.getincrementaldecoder("utf-8")().decode(clean, final=False)
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
        best = _charset_normalizer_guess(clean)
        self._tried.append(f"charset-normalizer ({best.encoding if best else 'no guess'})")
        # Western text has few bytes above 0x7F (accents, £, ’; the ¬ delimiter aside);
        # Cyrillic, Greek or CJK text is made of them, and only then is a non-Latin
        # guess believable (on a few lines charset-normalizer can call ¬ "big5")
        high = sum(clean.count(bytes([b])) for b in range(0x80, 0x100) if b != 0xAC)
        if best is not None and best.language not in _LATIN_LANGUAGES and high > 0.05 * len(clean):
            return best.encoding
        self._tried.append("cp1252")
        try:
            clean.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            if best is not None:
                return best.encoding
        raise DataFormatError(
            self.source,
            None,
            "cannot tell how this file's text is encoded (tried "
            + ", ".join(self._tried)
            + "); it may not be a text file, or name its encoding "
            + "(encoding= in Python, --encoding on the command line)",
        )

    def _decode_sample(self, sample: bytes, at_end: bool) -> str:
        if not self.encoding.startswith(("utf-16", "utf-32")):
            sample = sample.replace(b"\x00", b"")
        decoder = codecs.getincrementaldecoder(self.encoding)(errors=_FALLBACK_ERRORS)
        try:
            text = decoder.decode(sample, final=at_end)
        except (UnicodeDecodeError, LookupError) as exc:
            raise DataFormatError(
                self.source, None, f"cannot decode the file as {self.encoding} ({exc})"
            ) from exc
        controls = sum(1 for ch in text[:8192] if ch < " " and ch not in "\t\r\n")
        if controls > max(8, len(text[:8192]) // 100):
            raise DataFormatError(
                self.source,
                None,
                "this does not look like a text table: control characters throughout "
                f"(encodings tried: {', '.join(self._tried) or self.encoding})",
            )
        return text

    def _sniff_delimiter(self, text: str, at_end: bool, fieldnames: Sequence[str] | None) -> str:
        lines = _sample_lines(text, at_end)[:50]
        best: tuple[float, int, int] | None = None
        choice = None
        for rank, delim in enumerate(DELIMITERS):
            counts = [len(_split_sample(line, delim, self.quotechar)) for line in lines]
            if not counts:
                continue
            modal = max(set(counts), key=counts.count)
            if modal < 2:
                continue
            score = (counts.count(modal) / len(counts), modal, -rank)
            if best is None or score > best:
                best, choice = score, delim
        if choice is not None:
            return choice
        if (fieldnames is not None and len(fieldnames) == 1) or not lines:
            return ","
        shown = " ".join(repr(d) for d in DELIMITERS)
        raise DataFormatError(
            self.source,
            1,
            f"no delimiter splits the lines into columns (tried {shown}; "
            f"read as {self.encoding}; encodings tried: {', '.join(self._tried) or 'none'})",
        )

    def _sample_records(self, text: str, at_end: bool) -> list[list[str]]:
        lines = _sample_lines(text, at_end)[:20]
        return [
            fields
            for fields in (_split_sample(line, self.delimiter, self.quotechar) for line in lines)
            if any(f.strip() for f in fields)
        ]

    # -- reading -----------------------------------------------------------------

    def _numbered_records(self, maxsplit: int = -1) -> Generator[tuple[int, list[str]], None, None]:
        delim = self.delimiter
        quote = self.quotechar
        lines = self._raw_lines
        n = self._line_no
        # One csv reader for every quoted line (making a reader per line costs more
        # than parsing it); it reads on from the file only when a field spans lines.
        feed = _Feed(lines)
        reader = None
        try:
            for line in lines:
                n += 1
                if quote is not None and quote in line:
                    if reader is None:
                        reader = csv.reader(feed, delimiter=delim, quotechar=quote, strict=False)
                    feed.line = line
                    start = n
                    before = reader.line_num
                    fields = next(reader, [])
                    n += reader.line_num - before - 1
                    if any(fields):
                        yield start, fields
                    continue
                line = line.rstrip("\r\n")
                if not line or (line[0] == delim and not line.strip(delim)):
                    continue
                yield n, line.split(delim, maxsplit)
        finally:
            self._line_no = n

    def records(self, max_fields: int | None = None) -> Iterator[tuple[int, list[str]]]:
        """``(line, fields)`` pairs: the fastest way through a file.

        Unquoted lines are split with ``str.split``; lines with a quote
        character go through the :mod:`csv` module. ``max_fields=k`` splits off
        only the first ``k`` fields, which is quicker when a reader needs only
        the leading columns of a wide file: ``fields[k]`` then holds the rest of
        the line, and the field count no longer tells the row's width.
        """
        return self._numbered_records(-1 if max_fields is None else max_fields)

    def index(self, *names: str) -> int:
        """The position of the first of ``names`` among the columns (``KeyError`` if none)."""
        for name in names:
            if name in self._index:
                return self._index[name]
        raise KeyError(names[0] if len(names) == 1 else names)

    def __iter__(self) -> Iterator[tuple[int, dict[str, str | None] | list[str]]]:
        if not self.fieldnames:
            yield from self._numbered_records()
            return
        names = self.fieldnames
        width = len(names)
        for line, fields in self._numbered_records():
            row: dict[Any, Any] = dict(zip(names, fields, strict=False))
            if len(fields) < width:
                for name in names[len(fields) :]:
                    row[name] = None
            elif len(fields) > width:
                row[None] = fields[width:]
            yield line, row

    def close(self) -> None:
        """Close the file, if this table opened it."""
        if self._owns:
            self._binary.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<Table {self.source!r} encoding={self.encoding!r} "
            f"delimiter={self.delimiter!r} has_header={self.has_header}>"
        )


def open_table(
    src: str | os.PathLike[str] | IO[bytes],
    *,
    fieldnames: Sequence[str] | None = None,
    has_header: bool | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    quotechar: str | None = '"',
    source: str | None = None,
) -> Table:
    """Open a delimited text file for streaming, detecting how it is written.

    ``src`` is a path or a binary file object (read from its current position;
    it need not be seekable). ``fieldnames`` names the columns of a headerless
    file; ``has_header`` forces the header decision (``None``: detect; when a
    header is found and ``fieldnames`` is given, the header line is skipped
    and ``fieldnames`` used). ``delimiter`` and ``encoding`` skip detection.
    ``quotechar=None`` reads an unquoted file, where ``"`` is just a character.
    ``source`` names the file in error messages (default: its path or name).

    Raises :class:`~civickit.errors.DataFormatError` when the file cannot be
    read as text or split into columns, saying what was tried.
    """
    if isinstance(src, str | os.PathLike):
        path = Path(src)
        try:
            binary: IO[bytes] = path.open("rb")
        except FileNotFoundError:
            raise DataFormatError(source or str(path), None, "no such file") from None
        except IsADirectoryError:
            raise DataFormatError(source or str(path), None, "a folder, not a file") from None
        except PermissionError:
            raise DataFormatError(source or str(path), None, "not allowed to read it") from None
        except ValueError:  # a NUL character, which no file name can hold
            raise DataFormatError(repr(str(src)), None, "is not a file name") from None
        name, owns = source or str(path), True
    else:
        binary, owns = src, False
        name = source or str(getattr(src, "name", "<stream>"))
    return Table(
        binary,
        source=name,
        fieldnames=fieldnames,
        has_header=has_header,
        delimiter=delimiter,
        encoding=encoding,
        quotechar=quotechar,
        owns=owns,
    )


# -- helpers ---------------------------------------------------------------------------


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text without a BOM shows NULs in every other byte (for Latin text)."""
    pairs = len(sample) // 2
    if pairs < 8:
        return None
    even = sample[0 : pairs * 2 : 2].count(0)
    odd = sample[1 : pairs * 2 : 2].count(0)
    if odd > 0.4 * pairs and even < 0.05 * pairs:
        return "utf-16-le"
    if even > 0.4 * pairs and odd < 0.05 * pairs:
        return "utf-16-be"
    return None


def _charset_normalizer_guess(sample: bytes) -> CharsetMatch | None:
    from charset_normalizer import from_bytes

    return from_bytes(sample).best()


def _sample_lines(text: str, at_end: bool) -> list[str]:
    lines = re.split(r"\r\n|\r|\n", text)
    if not at_end and len(lines) > 1:
        lines.pop()  # cut short by the sample's end
    return [line for line in lines if line.strip()]


def _split_sample(line: str, delimiter: str, quotechar: str | None) -> list[str]:
    if quotechar is None or quotechar not in line:
        return line.split(delimiter)
    return next(csv.reader([line], delimiter=delimiter, quotechar=quotechar), [])


def _looks_like_header(lines: list[list[str]], fieldnames: Sequence[str] | None) -> bool:
    """A header has no numeric field, and sits above at least one numeric column.

    With nothing to compare (one line, or no numeric column), a file of a
    known layout (``fieldnames`` given) is taken as headerless, any other file
    as having a header when its first line's fields are distinct and filled.
    """
    if not lines:
        return False
    first = [f.strip() for f in lines[0]]
    if any(_NUMERIC.fullmatch(f) for f in first if f):
        return False
    for col in range(len(first)):
        values = [row[col].strip() for row in lines[1:] if col < len(row) and row[col].strip()]
        if values and all(_NUMERIC.fullmatch(v) for v in values):
            return True
    return fieldnames is None and all(first) and len(set(first)) == len(first)
