"""URL converters for VBAPI path keys."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from app.api.fields import INT32_MAX, INT32_MIN


class Int32Converter(IntegerConverter):
    """``<int32:key>``: a signed 32-bit key; a larger number matches no route (404).

    Werkzeug's ``int`` takes any size, and the database driver then fails on it (a 500)
    instead of finding nothing.
    """

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, signed=True, min=INT32_MIN, max=INT32_MAX)
