"""``<int32:key>`` in UI routes: keys are int32, so a larger number matches no route (404).

Werkzeug's ``int`` converter takes any size, and PostgreSQL then fails comparing it with an
``integer`` column instead of finding nothing.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from app.api.fields import INT32_MAX, INT32_MIN

NAME = "int32"


class Int32Converter(IntegerConverter):
    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, signed=True, min=INT32_MIN, max=INT32_MAX)
