"""A small per-process cache of rendered pages, for the routes every visitor hits."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class PageCache:
    """Least-recently-used, at most ``size`` entries, each kept ``ttl`` seconds (None: until evicted).

    Keys must carry whatever the page depends on (the data version, the date);
    the TTL bounds how stale a page built from a live upstream may get. A
    ``ttl`` of 0 turns the cache off (tests that change upstream answers).
    """

    def __init__(
        self,
        size: int = 2048,
        ttl: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(self, key: Hashable, render: Callable[[], T]) -> T:
        """Return the cached value for ``key``, rendering (outside the lock) on a miss."""
        if self.ttl == 0:
            return render()
        now = self._clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and (self.ttl is None or now - hit[0] < self.ttl):
                self._entries.move_to_end(key)
                return hit[1]  # type: ignore[return-value]
        value = render()
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
