"""URL converters for VBAPI path keys."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, ValidationError

from app.api.fields import INT32_MAX, INT32_MIN


class Int32Converter(IntegerConverter):
    """``<int32:key>``: a signed 32-bit key; anything else does not match (404, never a 500)."""

    def __init__(self, map, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]  # noqa: A002
        kwargs["signed"] = True
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        number = int(super().to_python(value))
        if not INT32_MIN <= number <= INT32_MAX:
            raise ValidationError()
        return number
