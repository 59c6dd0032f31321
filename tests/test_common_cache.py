"""MemoryCache: the per-process cache of pages and parsed answers both example apps use."""

from __future__ import annotations

from examples.common import MemoryCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def renderer(values):
    calls = []

    def render():
        calls.append(1)
        return values.pop(0)

    return render, calls


def test_a_hit_is_not_rendered_again():
    cache = MemoryCache()
    render, calls = renderer(["a", "b"])
    assert cache.get_or_render("k", render) == "a"
    assert cache.get_or_render("k", render) == "a"
    assert len(calls) == 1


def test_entries_expire_after_the_ttl():
    clock = Clock()
    cache = MemoryCache(ttl=60, clock=clock)
    render, calls = renderer(["old", "new"])
    cache.get_or_render("k", render)
    clock.now = 59.9
    assert cache.get_or_render("k", render) == "old"
    clock.now = 60.0
    assert cache.get_or_render("k", render) == "new"
    assert len(calls) == 2


def test_the_least_recently_used_entry_goes_first():
    cache = MemoryCache(size=2)
    cache.get_or_render("a", lambda: 1)
    cache.get_or_render("b", lambda: 2)
    cache.get_or_render("a", lambda: 0)  # a is now the most recent
    cache.get_or_render("c", lambda: 3)  # evicts b
    assert len(cache) == 2
    assert cache.get_or_render("a", lambda: "rendered") == 1
    assert cache.get_or_render("b", lambda: "rendered") == "rendered"


def test_a_ttl_of_zero_turns_it_off():
    cache = MemoryCache(ttl=0)
    render, calls = renderer(["a", "b"])
    assert [cache.get_or_render("k", render) for _ in range(2)] == ["a", "b"]
    assert len(calls) == 2
    assert len(cache) == 0


def test_get_and_put_follow_the_same_rules():
    clock = Clock()
    cache = MemoryCache(ttl=10, clock=clock)
    assert cache.get("k") is None and cache.get("k", "absent") == "absent"
    cache.put("k", ["crimes"])
    assert cache.get("k") == ["crimes"]
    clock.now = 10
    assert cache.get("k") is None
    off = MemoryCache(ttl=0)
    off.put("k", 1)
    assert off.get("k") is None and len(off) == 0
