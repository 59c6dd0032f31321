"""UK postcodes: offline normalisation, a local postcode directory and a postcodes.io client.

:func:`normalise` checks a postcode against the real grammar without touching
the network, so junk is refused before any request is made. :class:`Postcodes`
looks postcodes up in a local :class:`PostcodeDirectory` first and on
postcodes.io for the rest, and tells "not shaped like a postcode"
(:class:`~civickit.errors.InvalidPostcode`) from "no such postcode"
(:class:`~civickit.errors.PostcodeNotFound`, with the retirement date when the
postcode was terminated).

One module per concern, each importing only those below it (the import
contract in ``pyproject.toml`` checks it):

* :mod:`.client`: :class:`Postcodes`, the postcodes.io client;
* :mod:`.directory`: :class:`PostcodeDirectory`, the local directory read;
* :mod:`.builder`: ``PostcodeDirectory.build``'s work, the directory written;
* :mod:`.sources`: the ONSPD, NSPL and Code-Point Open files read, any header era;
* :mod:`.fileformat`: the directory's SQLite file and how a postcode is keyed;
* :mod:`.place`: the postcode grammar (:func:`normalise`) and :class:`Place`.

The ONSPD's newest release is found by :func:`civickit.datasets.onspd.latest_onspd`.
"""

from __future__ import annotations

# (``X as X``: names beyond __all__ that scripts, benchmarks and tests import from here)
from .builder import BUILTIN_NAMES as BUILTIN_NAMES
from .client import BULK_LIMIT, Postcodes
from .directory import DIRECTORY_ENV, PostcodeDirectory, default_directory, user_directory_path
from .fileformat import _key as _key
from .fileformat import _postcode as _postcode
from .place import CODE_FIELDS as CODE_FIELDS
from .place import Place, normalise
from .place import _new_place as _new_place

# latest_onspd and OnspdRelease moved up to civickit.datasets.onspd (issue 21): the old
# names still resolve here, on first use, so no caller changes.
_MOVED = {"latest_onspd": "civickit.datasets.onspd", "OnspdRelease": "civickit.datasets.onspd"}


def __getattr__(name: str) -> object:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BULK_LIMIT",
    "DIRECTORY_ENV",
    "Place",
    "PostcodeDirectory",
    "Postcodes",
    "default_directory",
    "normalise",
    "user_directory_path",
]
