import io

import pytest

from civickit.errors import DataFormatError
from civickit.tabular import SAMPLE_BYTES, open_table

ROWS = [["id", "name", "town"], ["1", "Café Nero", "Leeds"], ["2", "St Bartholomew’s", "Otley"]]


def table_bytes(rows, *, delimiter=",", newline="\r\n", encoding="utf-8"):
    text = newline.join(delimiter.join(r) for r in rows) + newline
    return text.encode(encoding)


def read_all(data, **kw):
    with open_table(io.BytesIO(data), **kw) as table:
        return table, list(table)


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8-sig"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp1252", "cp1252"),
        ("utf-16", "utf-16"),  # UCS-2/UTF-16 with a byte-order mark, as old Leeds copies
    ],
)
def test_encodings(encoding, expected):
    table, rows = read_all(table_bytes(ROWS, encoding=encoding))
    assert table.encoding == expected
    assert table.fieldnames == ["id", "name", "town"]
    assert rows == [
        (2, {"id": "1", "name": "Café Nero", "town": "Leeds"}),
        (3, {"id": "2", "name": "St Bartholomew’s", "town": "Otley"}),
    ]


def test_utf16_without_bom():
    data = table_bytes(ROWS, encoding="utf-16-le")
    table, rows = read_all(data)
    assert table.encoding == "utf-16-le"
    assert rows[0][1]["name"] == "Café Nero"


def test_not_cp852_for_a_cp1252_file_with_only_the_not_sign():
    # charset-normalizer alone calls NHS Hospital.csv "cp852" (0xAC is its only high byte)
    data = table_bytes([["a", "b", "c"], ["1", "2", "3"], ["4", "5", "6"]], delimiter="¬",
                       encoding="cp1252")  # fmt: skip
    table, rows = read_all(data)
    assert table.encoding == "cp1252"
    assert table.delimiter == "¬"
    assert rows[-1] == (3, {"a": "4", "b": "5", "c": "6"})


def test_stray_cp1252_byte_after_the_sample_is_read_as_cp1252():
    filler = [["x", "1"]] * (SAMPLE_BYTES // 4)
    data = table_bytes([["name", "n"], *filler], newline="\n") + "Bartholomew’s,2\n".encode(
        "cp1252"
    )
    _, rows = read_all(data)
    assert rows[-1][1] == {"name": "Bartholomew’s", "n": "2"}


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|", "¬"])
def test_delimiters(delimiter):
    table, rows = read_all(table_bytes(ROWS, delimiter=delimiter, encoding="cp1252"))
    assert table.delimiter == delimiter
    assert rows[0][1]["town"] == "Leeds"


def test_nul_bytes_are_empty_fields():
    data = b"666057,\x00,1,ABBEY AVENUE,BRAMLEY,LEEDS,LS5 3DH\r\n"
    table, rows = read_all(data)
    assert table.has_header is False
    assert rows == [(1, ["666057", "", "1", "ABBEY AVENUE", "BRAMLEY", "LEEDS", "LS5 3DH"])]


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_endings(newline):
    _, rows = read_all(table_bytes(ROWS, newline=newline))
    assert [line for line, _ in rows] == [2, 3]
    assert rows[1][1]["town"] == "Otley"


def test_header_detected_or_not():
    headed, _ = read_all(b"PremisesID,Type,CollectionDate\n1050327,BROWN,31/08/19\n")
    bare, rows = read_all(b"1050327,BROWN,31/08/19\n666057,BLACK,04/07/25\n")
    assert headed.has_header and headed.fieldnames == ["PremisesID", "Type", "CollectionDate"]
    assert not bare.has_header and bare.fieldnames is None
    assert rows[0] == (1, ["1050327", "BROWN", "31/08/19"])


def test_fieldnames_for_a_headerless_file_and_an_optional_header():
    names = ["id", "bin", "date"]
    _, bare = read_all(b"1050327,BROWN,31/08/19\n", fieldnames=names)
    table, headed = read_all(b"PremisesID,Type,CollectionDate\n1050327,BROWN,31/08/19\n",
                             fieldnames=names)  # fmt: skip
    assert bare == headed[:1] == [] or bare[0][1] == headed[0][1] == {
        "id": "1050327",
        "bin": "BROWN",
        "date": "31/08/19",
    }
    assert table.header_line == 1 and headed[0][0] == 2


def test_has_header_can_be_forced():
    table, rows = read_all(b"a,b\nc,d\n", has_header=False)
    assert rows == [(1, ["a", "b"]), (2, ["c", "d"])]
    table, rows = read_all(b"1,2\n3,4\n", has_header=True)
    assert table.fieldnames == ["1", "2"]
    assert rows == [(2, {"1": "3", "2": "4"})]


def test_quoted_fields_span_lines_and_line_numbers_stay_physical():
    data = b'id,note\r\n1,"two\r\nlines"\r\n2,"a, b"\r\n\r\n3,plain\r\n,\r\n'
    _, rows = read_all(data)
    assert rows == [
        (2, {"id": "1", "note": "two\r\nlines"}),
        (4, {"id": "2", "note": "a, b"}),
        (6, {"id": "3", "note": "plain"}),
    ]


def test_unquoted_files_keep_quote_characters():
    _, rows = read_all(b'a\xacb\r\n"x\xacy"z\r\n', quotechar=None, has_header=True)
    assert rows == [(2, {"a": '"x', "b": 'y"z'})]


def test_short_and_long_rows_as_dicts():
    _, rows = read_all(b"a,b,c\n1,2\n1,2,3,4\n")
    assert rows[0][1] == {"a": "1", "b": "2", "c": None}
    assert rows[1][1] == {"a": "1", "b": "2", "c": "3", None: ["4"]}


def test_records_fast_path_and_max_fields():
    with open_table(io.BytesIO(b"a,b,c,d\n1,2,3,4\n")) as table:
        assert table.index("z", "c") == 2
        assert list(table.records(max_fields=2)) == [(2, ["1", "2", "3,4"])]


def test_path_source_and_missing_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n")
    with open_table(path) as table:
        assert table.source == str(path)
        assert list(table) == [(2, {"a": "1", "b": "2"})]
    with pytest.raises(DataFormatError, match="no such file"):
        open_table(tmp_path / "missing.csv")


def test_an_unreadable_file_says_what_was_tried():
    noise = bytes(range(256)) * 64
    with pytest.raises(DataFormatError) as info:
        open_table(io.BytesIO(noise), source="noise.bin")
    message = str(info.value)
    assert message.startswith("noise.bin")
    assert "utf-8-sig" in message and "cp1252" in message


def test_no_delimiter_says_which_were_tried():
    with pytest.raises(DataFormatError) as info:
        open_table(io.BytesIO(b"just words\nmore words\n"), source="prose.txt")
    message = str(info.value)
    assert "prose.txt, line 1" in message
    for shown in ("','", "'\\t'", "';'", "'|'", "'¬'"):
        assert shown in message
    assert "utf-8-sig" in message


def test_a_spreadsheet_is_named():
    with pytest.raises(DataFormatError, match="xlsx"):
        open_table(io.BytesIO(b"PK\x03\x04" + b"\x00" * 100), source="2016.xlsx")


def test_streams_a_long_file_without_seeking():
    class OneWay(io.RawIOBase):
        def __init__(self, data):
            self._data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

        def seekable(self):
            return False

    data = b"n,sq\n" + b"".join(f"{i},{i * i}\n".encode() for i in range(50_000))
    with open_table(io.BufferedReader(OneWay(data))) as table:
        rows = list(table.records())
    assert len(rows) == 50_000
    assert rows[-1] == (50_001, ["49999", str(49999**2)])
