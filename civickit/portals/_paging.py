"""Offset paging shared by the portals that allow random access: in order, at most N pages held.

``fetch(offset, count)`` returns ``(rows, more)``: the rows the server sent
from ``offset`` (perhaps fewer than ``count``) and whether it says more follow.
:func:`offset_pages` asks for pages ``page_size`` apart, up to ``concurrency``
at once, and yields them in order. A page that comes back short while the
server says there is more (ArcGIS caps pages below what was asked) is topped
up from where it stopped before the next page is yielded, so every row comes
once, whatever the server's cap.

The first page is fetched alone (a small table costs one request); the
window opens to ``concurrency`` pages once it says more follow.

Memory: a page is either being fetched, waiting its turn, or being consumed,
and a new fetch starts only when the consumer has moved past a page; so at
most ``concurrency`` pages exist at once. Every request goes through the one
:class:`~civickit.http.HttpClient`, whose adapter takes the host's rate-limit
token in whichever thread sends it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from ..errors import (
    InvalidArgument,
    ServiceUnavailable,
)
from .models import Row

__all__ = ["DEFAULT_CONCURRENCY", "Fetch", "offset_pages"]

DEFAULT_CONCURRENCY = 4
Fetch = Callable[[int, int], tuple[list[Row], bool]]
# Esri: exceededTransferLimit may be true on a page with no rows; ask again this often.
EMPTY_PAGES_TOLERATED = 2


def check_concurrency(concurrency: int) -> int:
    if not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidArgument(f"concurrency must be 1 or more, not {concurrency!r}")
    return concurrency


def offset_pages(
    fetch: Fetch,
    *,
    page_size: int,
    limit: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    url: str | None = None,
) -> Iterator[list[Row]]:
    """Yield every page from offset 0, in order, until the server says there is no more."""
    if page_size < 1:
        raise InvalidArgument("page_size must be at least 1")
    check_concurrency(concurrency)
    if limit is not None and limit <= 0:
        return iter(())
    if concurrency == 1:
        return _sequential(fetch, page_size, limit, url)
    return _concurrent(fetch, page_size, limit, concurrency, url)


def _want(offset: int, page_size: int, limit: int | None) -> int:
    return page_size if limit is None else min(page_size, limit - offset)


def _top_up(
    fetch: Fetch, offset: int, want: int, rows: list[Row], more: bool, url: str | None
) -> tuple[list[Row], bool]:
    """Fetch the rest of a page the server cut short while saying more follow."""
    empty = 0
    while len(rows) < want and more:
        extra, more = fetch(offset + len(rows), want - len(rows))
        if not extra:
            empty += 1
            if more and empty > EMPTY_PAGES_TOLERATED:
                raise ServiceUnavailable(
                    None,
                    f"the server says more rows follow offset {offset + len(rows)} "
                    "but keeps sending none",
                    url,
                )
            continue
        empty = 0
        rows = rows + extra if rows else extra
    return rows, more


def _sequential(
    fetch: Fetch, page_size: int, limit: int | None, url: str | None
) -> Iterator[list[Row]]:
    offset = 0
    while limit is None or offset < limit:
        want = _want(offset, page_size, limit)
        rows, more = fetch(offset, want)
        rows, more = _top_up(fetch, offset, want, rows, more, url)
        if not rows:
            return
        yield rows[:want]
        offset += min(len(rows), want)
        del rows  # one page in memory
        if not more:
            return


def _concurrent(
    fetch: Fetch, page_size: int, limit: int | None, concurrency: int, url: str | None
) -> Iterator[list[Row]]:
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="civickit-page")
    pending: deque[tuple[int, int, Future[tuple[list[Row], bool]]]] = deque()
    planned = 0  # offset of the next page to ask for
    window = 1  # the first page alone: a small table costs one request, not ``concurrency``

    def plan() -> None:
        nonlocal planned
        while len(pending) < window and (limit is None or planned < limit):
            want = _want(planned, page_size, limit)
            pending.append((planned, want, pool.submit(fetch, planned, want)))
            planned += want

    done = False
    try:
        plan()
        while pending:
            offset, want, future = pending.popleft()
            rows, more = future.result()
            rows, more = _top_up(fetch, offset, want, rows, more, url)
            if not rows:
                break
            yield rows[:want]
            del rows, future  # the consumer is done with this page: let it go first
            if not more:
                break
            window = concurrency
            plan()
        done = True
    finally:
        for _, _, future in pending:
            future.cancel()
        # at the end, let the pages asked for past it finish (short, empty answers) so no
        # request outlives the read; a consumer that stops early is not kept waiting
        pool.shutdown(wait=done, cancel_futures=True)
