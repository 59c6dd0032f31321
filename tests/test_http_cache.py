"""The HTTP cache a user names: checked when the client is made, one clear line when unusable."""

from __future__ import annotations

import socket
import sqlite3

import pytest

from civickit.errors import CacheUnavailable
from civickit.http import HttpClient, sqlite_cache_path
from tests.helpers import assert_one_line_error


def free_port() -> int:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_redis_is_one_line_without_the_password(run):
    port = free_port()

    with pytest.raises(CacheUnavailable) as info:
        HttpClient(cache=f"redis://user:hunter2@127.0.0.1:{port}/0")

    assert f"could not reach the Redis cache at redis://127.0.0.1:{port}/0" in str(info.value)
    assert "hunter2" not in str(info.value)
    result = run("--cache", f"redis://127.0.0.1:{port}", "postcode", "LS1 3EX")
    assert_one_line_error(result, "could not reach the Redis cache")


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(run, tmp_path):
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n")

    result = run("--cache", str(passwd), "postcode", "LS1 3EX")

    assert_one_line_error(result, f"{passwd} exists and is not an SQLite cache")
    assert passwd.read_text() == "root:x:0:0:root:/root:/bin/bash\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["passwd"]  # no passwd.sqlite beside it


def test_a_folder_is_refused(run, tmp_path):
    result = run("--cache", str(tmp_path), "postcode", "LS1 3EX")

    assert_one_line_error(result, "is a folder", str(tmp_path / "http-cache.sqlite"))
    assert list(tmp_path.iterdir()) == []


def test_tilde_is_expanded_once_and_no_literal_tilde_folder_appears(tmp_path, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)

    client = HttpClient(cache="~/caches/civickit")
    client.close()

    assert sqlite_cache_path("~/caches/civickit") == home / "caches" / "civickit.sqlite"
    assert (home / "caches" / "civickit.sqlite").is_file()
    assert list(work.iterdir()) == []  # no ./~ folder


def test_an_existing_cache_and_an_empty_file_are_used(tmp_path):
    cache = tmp_path / "http.sqlite"
    HttpClient(cache=cache).close()
    with sqlite3.connect(cache) as conn:  # requests-cache's tables are there
        assert conn.execute("select count(*) from sqlite_master").fetchone()[0] > 0
    HttpClient(cache=cache).close()  # and it opens again
    empty = tmp_path / "new.sqlite"
    empty.touch()
    HttpClient(cache=empty).close()
