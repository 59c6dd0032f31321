"""Readers of the real published files civickit's apps are built on.

* :mod:`~civickit.datasets.bins`: Leeds ``dm_premises.csv`` and ``dm_jobs.csv``
  (household waste collections, Data Mill North).
* :mod:`~civickit.datasets.collisions`: DfT STATS19 collision files (every
  header era) and Leeds City Council's yearly road traffic accident files.
* :mod:`~civickit.datasets.hospitals`: NHS ``Hospital.csv``.
* :mod:`~civickit.datasets.onspd`: where the newest ONS Postcode Directory is
  published (:func:`~civickit.datasets.onspd.latest_onspd`); the directory
  itself is read by :class:`civickit.postcodes.PostcodeDirectory`.

Every reader takes a path or a binary file object, streams it (memory stays
flat however long the file), and takes ``on_error``: ``None`` raises
:class:`~civickit.errors.DataFormatError` at the first bad row, naming the
file and line; a callable is handed every bad row's error and reading goes on.
A file whose header does not match its layout raises either way.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["bins", "collisions", "hospitals", "onspd"]


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
