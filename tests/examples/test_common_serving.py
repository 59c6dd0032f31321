"""examples.common: the import log and the data serving now, the sample notice, and what an
app keeps (the joints both apps share)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask, render_template_string

from examples.common import (
    ImportLog,
    ImportReport,
    configure,
    import_log,
    init_app,
    made_once,
    make_engine,
    show_sample_notice,
)

metadata = sa.MetaData()
log_table = import_log(metadata, "test_imports")


@dataclass(kw_only=True)
class Report(ImportReport):
    rows: int = 0

    def figures(self):
        return {"rows": self.rows}


def report(source: str, *, rows: int = 1, ok: bool = True, sample: bool = False) -> Report:
    status = "ok" if ok else "failed"
    return Report(source=source, status=status, is_sample=sample, files=["/x.csv"], rows=rows)


@pytest.fixture
def log(database_url):
    engine = make_engine(database_url)
    metadata.create_all(engine)
    yield ImportLog(engine, log_table)
    engine.dispose()


def record(log: ImportLog, kind: str, **kwargs) -> None:
    with log.engine.begin() as conn:
        log.record(conn, report(kind, **kwargs), kind=kind)


def test_the_newest_successful_import_of_each_kind_is_serving(log):
    assert log.serving().version == "none" and not log.serving().is_sample
    record(log, "collisions", rows=10)
    record(log, "hospitals", rows=5, sample=True)
    first = log.serving()
    record(log, "collisions", rows=20)
    log.record_failure(report("collisions", rows=99, ok=False), kind="collisions")
    serving = log.serving()
    assert sorted(serving.imports) == ["collisions", "hospitals"]
    assert serving.get("collisions").figures == {"rows": 20, "files": ["/x.csv"]}
    assert serving.get("collisions").imported_at.tzinfo is not None
    assert serving.is_sample  # one kind of it is
    assert serving.version != first.version
    assert log.last_attempt().status == "failed"
    assert log.last_attempt("hospitals").figures["rows"] == 5


def test_the_answer_is_kept_max_age_seconds_unless_forgotten(log):
    kept = ImportLog(log.engine, log_table, max_age=3600)
    assert kept.serving().get("bins") is None
    record(log, "bins")
    assert kept.serving().get("bins") is None  # kept
    assert kept.serving(fresh=True).get("bins") is not None
    kept.forget()
    assert kept.serving().get("bins") is not None


def test_the_readiness_check_names_what_is_missing_and_what_is_old(log):
    record(log, "collisions")
    now = datetime.now(UTC)
    missing = log.serving().check(["collisions", "hospitals"], how_to_import="`sw import`")
    assert missing["ok"] is False
    assert missing["message"] == "no hospitals data imported yet: run `sw import`"
    assert missing["imports"]["collisions"]["rows"] == 1
    assert "files" not in missing["imports"]["collisions"]  # no server paths
    old = log.serving().check(
        ["collisions"],
        how_to_import="-",
        max_age=timedelta(hours=72),
        now=now + timedelta(hours=73),
    )
    assert old["ok"] is False and old["message"] == "collisions data is older than 72 hours"
    assert log.serving().check(["collisions"], how_to_import="-", max_age=timedelta(hours=72))["ok"]


def _app(tmp_path) -> Flask:
    app = Flask(__name__, instance_path=str(tmp_path / "instance"))
    configure(app, "test", {"TESTING": True, "SECRET_KEY": "x"})
    init_app(app, service_name="Test")
    return app


def test_the_sample_notice_follows_the_apps_rule_and_never_breaks_a_page(tmp_path):
    app = _app(tmp_path)
    answers = iter([True, False])

    def is_sample() -> bool:
        answer = next(answers, None)
        if answer is None:
            raise sa.exc.OperationalError("SELECT", {}, ConnectionRefusedError("down"))
        return answer

    show_sample_notice(app, is_sample)
    with app.test_request_context():
        page = "{{ 'sample' if sample_data else 'real' }}"
        assert [render_template_string(page) for _ in range(3)] == ["sample", "real", "real"]


def test_what_an_app_keeps_is_made_once_per_app_even_when_asked_at_once(tmp_path):
    made: list[Flask] = []
    started = threading.Barrier(8)

    def make(app: Flask) -> object:
        made.append(app)
        return object()

    def ask(app: Flask, out: list[object]) -> None:
        started.wait()
        out.append(made_once(app, make))

    first, second = _app(tmp_path / "a"), _app(tmp_path / "b")
    seen: list[object] = []
    threads = [threading.Thread(target=ask, args=(first, seen)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(seen) == 8 and len({id(x) for x in seen}) == 1
    assert made_once(second, make) is not seen[0]  # another app, another one
    assert made == [first, second]
