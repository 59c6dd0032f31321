"""One ``to_dict()`` for every record civickit returns.

A record is a dataclass (frozen, as a rule). ``to_dict()`` gives its fields
as JSON-ready values, the same way for every record in the library:

* dates and datetimes as ISO 8601 text (``"2015-01-16"``,
  ``"2026-01-05T18:00:00+00:00"``);
* times as ``"HH:MM"``, with seconds only when they are not zero;
* nested records as dicts, tuples and lists as lists, dicts as dicts;
* everything else (text, numbers, ``None``, booleans) as it is.
"""

from __future__ import annotations

import dataclasses
from datetime import date, time
from typing import TYPE_CHECKING, Any, TypeAlias, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["JSONValue", "Record", "to_dict"]

if TYPE_CHECKING:
    #: A value of parsed JSON: what :func:`json.loads` gives for any document.
    JSONValue: TypeAlias = (
        str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None
    )
else:  # the same one level deep: a recursive alias needs Python 3.12's ``type`` at run time
    JSONValue = str | int | float | bool | list | dict | None


def to_dict(record: DataclassInstance) -> dict[str, Any]:
    """The fields of ``record`` (a dataclass instance) as a JSON-ready dict."""
    return {
        field.name: _json_ready(getattr(record, field.name)) for field in dataclasses.fields(record)
    }


class Record:
    """Mixin for record dataclasses: ``to_dict()`` as :func:`to_dict` gives it."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict of JSON-ready values (dates and times as ISO 8601 text).

        The values are typed ``Any`` because their types are each record's own
        fields' (an ``int`` count, a ``str | None`` street...), which one mixin
        cannot spell.
        """
        return to_dict(cast("DataclassInstance", self))


def _json_ready(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, time):
        if value.second or value.microsecond:
            return value.isoformat()
        return value.isoformat(timespec="minutes")
    if isinstance(value, tuple | list):
        return [_json_ready(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    return value
