"""URL converters for VBAPI path parameters."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from app.api.fields import INT32_MAX, INT32_MIN


class Int32Converter(IntegerConverter):
    """``<int32:key>``: a signed decimal int32; anything else does not match the route (404).

    Keys are int32 columns, so a larger number can name no record; refusing it in routing keeps
    out-of-range values away from the database (PostgreSQL would reject them with an error).
    """

    regex = r"-?[0-9]+"

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, *args, min=INT32_MIN, max=INT32_MAX, signed=True, **kwargs)
        self.regex = type(self).regex
