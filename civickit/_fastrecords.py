"""Records made fast: a frozen dataclass built without its per-field ``__setattr__``.

A frozen dataclass's ``__init__`` sets each field through
``object.__setattr__``, which costs about a microsecond for ten fields. The
readers that make a record per row (the collision readers, the postcode
directory's lookups) build theirs through :func:`fast_constructor` instead,
this module being the one place the trick is written. Nothing is checked: each
user has a test that compares its records with the real constructor's
(``cls(**vars(record)) == record``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["fast_constructor"]

R = TypeVar("R")


def fast_constructor(cls: type[R]) -> Callable[..., R]:
    """A keyword-only constructor for a frozen dataclass that skips its per-field ``__setattr__``.

    Callers pass every field by name, in the class's field order (the order
    ``vars(record)`` then shows); the keyword arguments become the record's
    ``__dict__`` as they are.
    """
    new = object.__new__
    set_attribute = object.__setattr__

    def make(**fields: Any) -> R:
        record = new(cls)
        set_attribute(record, "__dict__", fields)  # the keyword arguments are a fresh dict
        return record

    return make
