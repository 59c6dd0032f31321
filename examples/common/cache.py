"""Per-process memory for values that are costly to rebuild: a cache, and settling what is kept."""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

T = TypeVar("T")
_MISSING = object()


class MemoryCache:
    """Least-recently-used, at most ``size`` entries, each kept ``ttl`` seconds (None: until evicted).

    Thread-safe, and local to one process. The apps keep rendered pages and
    API answers in one (leeds_bins' premises pages and calendar feeds,
    streetwise's area pages), and streetwise keeps parsed police.uk answers in
    another. Keys must carry whatever the value depends on (the data version,
    the date); the TTL bounds how stale a value built from a live upstream may
    get. A ``ttl`` of 0 turns the cache off (tests that change upstream answers).
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

    def get(self, key: Hashable, default: object = None) -> object:
        """The live entry for ``key``, or ``default``."""
        if self.ttl == 0:
            return default
        now = self._clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is None or (self.ttl is not None and now - hit[0] >= self.ttl):
                return default
            self._entries.move_to_end(key)
            return hit[1]

    def put(self, key: Hashable, value: object) -> None:
        """Keep ``value`` for ``key``, evicting the least recently used beyond ``size``."""
        if self.ttl == 0:
            return
        with self._lock:
            self._entries[key] = (self._clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def get_or_render(self, key: Hashable, render: Callable[[], T]) -> T:
        """Return the cached value for ``key``, rendering (outside the lock) on a miss."""
        hit = self.get(key, _MISSING)
        if hit is not _MISSING:
            return cast(T, hit)  # what render() returned for this key
        value = render()
        self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def settled(kept: T) -> T:
    """``kept``, with every object alive now moved out of the cycle collector's way.

    What a worker loads once (boundaries, the crime snapshot, hospitals) lives
    as long as the worker (the data, until the next import), yet each full
    collection walked all of it, inside whichever request set it off: those
    requests were the slowest. Frozen objects are still freed when nothing
    refers to them.
    """
    gc.collect()
    gc.freeze()
    return kept
