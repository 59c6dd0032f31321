"""Every portal client against a real local HTTP server: paging edge cases and bounded concurrency."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from civickit.http import HttpClient
from civickit.portals import CKAN, ArcGIS, OpenDataSoft, Socrata
from tests._portal_app import (
    ARCGIS_LAYER,
    CKAN_RESOURCE,
    ODS_DATASET,
    SOCRATA_VIEW,
    PortalApp,
)

Reader = Callable[[str, HttpClient, int, int], Iterator[dict[str, Any]]]

READERS: dict[str, tuple[Reader, str]] = {
    "arcgis": (
        lambda url, http, c, size: ArcGIS(url + ARCGIS_LAYER, http=http).records(
            page_size=size, concurrency=c
        ),
        "OBJECTID",
    ),
    "socrata": (
        lambda url, http, c, size: Socrata(url, http=http).records(
            SOCRATA_VIEW, page_size=size, concurrency=c
        ),
        "id",
    ),
    "opendatasoft": (
        lambda url, http, c, size: OpenDataSoft(url, http=http).records(
            ODS_DATASET, page_size=size, concurrency=c
        ),
        "id",
    ),
}


def ids(rows: Iterator[dict[str, Any]], key: str) -> list[int]:
    return [int(r[key]) for r in rows]


@pytest.fixture
def app() -> PortalApp:
    return PortalApp(total=1000)


@pytest.fixture
def http() -> Iterator[HttpClient]:
    client = HttpClient(retries=0)
    yield client
    client.close()


@pytest.mark.parametrize("platform", list(READERS))
@pytest.mark.parametrize("concurrency", [1, 4])
def test_every_row_once_in_order(serve, app, http, platform, concurrency):
    reader, key = READERS[platform]
    server = serve(app)

    assert ids(reader(server.url, http, concurrency, 100), key) == list(range(1, 1001))


@pytest.mark.parametrize("platform", list(READERS))
def test_pages_finishing_out_of_order_still_arrive_in_order(serve, app, http, platform):
    reader, key = READERS[platform]
    app.hold_one_page = True  # page 2 waits until a later page has been asked for
    server = serve(app)

    assert ids(reader(server.url, http, 4, 100), key) == list(range(1, 1001))
    assert app.overlapped is True  # the later page really was in flight meanwhile


@pytest.mark.parametrize("platform", list(READERS))
@pytest.mark.parametrize("concurrency", [1, 2, 4])
def test_never_more_than_concurrency_pages_held(serve, app, http, platform, concurrency):
    reader, _ = READERS[platform]
    server = serve(app)
    page = 50
    worst = 0
    for n, _ in enumerate(reader(server.url, http, concurrency, page)):
        consumed = n // page  # pages the consumer has finished with
        worst = max(worst, app.data_requests - consumed)
    assert 1 <= worst <= concurrency


def test_concurrency_one_sends_one_request_at_a_time(serve, app, http):
    app.hold_one_page = True
    app.hold_seconds = 0.5
    app.total = 300
    server = serve(app)
    # held page 2 times out waiting for company: nothing else was in flight
    rows = list(ArcGIS(server.url + ARCGIS_LAYER, http=http).records(page_size=100, concurrency=1))
    assert len(rows) == 300 and app.overlapped is False


@pytest.mark.parametrize("platform", list(READERS))
def test_every_request_takes_a_rate_limit_token(serve, app, http, platform):
    reader, _ = READERS[platform]
    server = serve(app)
    http.set_rate_limit("127.0.0.1", 10_000, burst=10_000)
    bucket = http._buckets["127.0.0.1"]
    taken = []
    acquire = bucket.acquire

    def counting() -> float:
        taken.append(1)
        return acquire()

    bucket.acquire = counting  # type: ignore[method-assign]

    assert len(list(reader(server.url, http, 4, 100))) == 1000
    assert len(taken) == app.requests >= 10


def test_peak_memory_does_not_grow_with_the_table(serve, http):
    """Reading 10x the rows must not take anywhere near 10x the memory: pages are let go."""

    def peak(total: int) -> int:
        app = PortalApp(total=total)
        server = serve(app)
        gc.collect()
        tracemalloc.start()
        try:
            count = sum(
                1
                for _ in Socrata(server.url, http=http).records(
                    SOCRATA_VIEW, page_size=100, concurrency=4
                )
            )
            assert count == total
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1_000), peak(10_000)
    assert large < 2.5 * small, (small, large)


# -- each platform's paging edge cases over real HTTP -----------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4])
def test_arcgis_server_sending_fewer_rows_than_its_max_record_count(serve, app, http, concurrency):
    app.arcgis_serves_at_most = 70  # says 1000, sends 70 with exceededTransferLimit
    server = serve(app)

    rows = ArcGIS(server.url + ARCGIS_LAYER, http=http).records(concurrency=concurrency)

    assert ids(rows, "OBJECTID") == list(range(1, 1001))


@pytest.mark.parametrize("concurrency", [1, 4])
def test_arcgis_old_server_by_object_id(serve, app, http, concurrency):
    app.arcgis_paging = False
    app.arcgis_max_record_count = None
    server = serve(app)

    rows = list(ArcGIS(server.url + ARCGIS_LAYER, http=http).records(concurrency=concurrency))

    assert [r["OBJECTID"] for r in rows] == list(range(1, 1001))
    assert rows[0]["latitude"] == pytest.approx(53.80001)


def test_socrata_rows_are_in_order_although_the_server_has_none_of_its_own(serve, app, http):
    server = serve(app)  # without $order this server shuffles every page differently

    assert ids(Socrata(server.url, http=http).records(SOCRATA_VIEW, page_size=90), "id") == list(
        range(1, 1001)
    )


def test_opendatasoft_past_the_window_reads_the_export(serve, http):
    app = PortalApp(total=12_000)
    server = serve(app)

    rows = OpenDataSoft(server.url, http=http).records(ODS_DATASET)

    assert ids(rows, "id") == list(range(1, 12_001))


def test_ckan_whole_table_comes_from_the_dump_typed(serve, app, http):
    server = serve(app)

    rows = list(CKAN(server.url, http=http).records(CKAN_RESOURCE))

    assert [r["_id"] for r in rows] == list(range(1, 1001))
    assert rows[0] == {"_id": 1, "name": "Bin 1", "score": 0.5}
    assert app.data_requests == 1  # one streamed dump, no paging


def test_ckan_without_a_dump_pages_instead(serve, app, http):
    app.ckan_dump = False
    server = serve(app)

    rows = list(CKAN(server.url, http=http).records(CKAN_RESOURCE, page_size=300))

    assert [r["_id"] for r in rows] == list(range(1, 1001))
    assert app.data_requests == 4


def test_a_failure_part_way_is_raised_in_order_not_swallowed(serve, app, http):
    app.fail_from = 300
    server = serve(app)
    seen = []

    with pytest.raises(Exception, match="HTTP 500"):
        for row in Socrata(server.url, http=http).records(SOCRATA_VIEW, page_size=100):
            seen.append(int(row["id"]))

    assert seen == list(range(1, 301))  # every row before the failed page, in order
