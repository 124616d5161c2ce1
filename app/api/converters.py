"""URL converters for VBAPI path parameters."""

from __future__ import annotations

from werkzeug.routing import BaseConverter

from app.wire.fields import INT32_MAX


def _up_to(limit: int) -> str:
    """A regex matching the decimal integers 0..``limit``, without leading zeros."""
    digits = str(limit)
    width = len(digits)
    parts = []
    if width > 1:
        parts.append("[0-9]")
    if width > 2:
        parts.append(f"[1-9][0-9]{{1,{width - 2}}}")
    for i, digit in enumerate(digits):
        low = 1 if i == 0 and width > 1 else 0
        if int(digit) > low:
            rest = width - i - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            parts.append(f"{digits[:i]}[{low}-{int(digit) - 1}]{tail}")
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


class Int32Converter(BaseConverter):
    """``<int32:key>``: a decimal int32 (leading zeros allowed); nothing else matches the route.

    Keys are int32 columns, so a larger number can name no record. The range is in the regex,
    not checked after matching: a number that matched and then failed a check would make
    Werkzeug answer 405 when the same path has routes for other methods, instead of 404.
    """

    regex = rf"(?:0*{_up_to(INT32_MAX)}|-0*{_up_to(INT32_MAX + 1)})"
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(int(value))
