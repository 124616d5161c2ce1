"""A page of results, and the page number a request asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from app.wire.fields import query_integer

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        """1-based position of the first item on this page (0 when there is none)."""
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return (self.number - 1) * self.size + len(self.items)


def page_number(raw: str | None) -> int:
    """``?page=`` as a positive integer; anything else is page 1."""
    number = query_integer(raw)
    return number if number is not None and 1 <= number <= 1_000_000 else 1


def clamp(number: int, total: int, size: int) -> int:
    """The requested page, or the last one when it asks for more than there is."""
    return min(number, max(1, -(-total // size)))
