"""Paged, sorted lists (SPEC section 3): ``page``, ``pageSize``, ``sortBy`` and ``x-pagination``.

``sortBy=field:asc,field2:desc`` names the entity's JSON fields, matched case-insensitively;
the key is always the last sort column, so pages are stable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import request
from marshmallow import Schema
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from app.api.envelope import ApiError
from app.wire.fields import INT32_MAX, query_integer

PAGINATION_HEADER = "x-pagination"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class PageRequest:
    page: int
    page_size: int
    order_by: tuple[ColumnElement[Any], ...]


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    total: int
    request: PageRequest

    @property
    def headers(self) -> dict[str, str]:
        size = self.request.page_size
        summary = {
            "TotalCount": self.total,
            "TotalPages": math.ceil(self.total / size),
            "CurrentPage": self.request.page,
            "PageSize": size,
        }
        return {PAGINATION_HEADER: json.dumps(summary, separators=(",", ":"))}


def sortable_columns(out_schema: Schema, model: type) -> dict[str, ColumnElement[Any]]:
    """JSON field name → model column, for every field the entity's output schema writes."""
    return {
        name: getattr(model, field.attribute or name) for name, field in out_schema.fields.items()
    }


def page_request(
    sortable: Mapping[str, ColumnElement[Any]], key: ColumnElement[Any]
) -> PageRequest:
    """Read ``page``, ``pageSize`` and ``sortBy`` from the query string (400 when invalid)."""
    page, page_size = page_and_size()
    return PageRequest(page, page_size, (*_order_by(sortable), key.asc()))


def page_and_size() -> tuple[int, int]:
    """``page`` and ``pageSize`` from the query string (400 when out of range)."""
    return int_arg("page", 1, 1, INT32_MAX), int_arg(
        "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE
    )


def fetch_page(session: Session, statement: Select[Any], paging: PageRequest) -> Page:
    """One page of ``statement`` (which selects rows or ORM entities) and the total count."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(
        statement.order_by(*paging.order_by)
        .limit(paging.page_size)
        .offset((paging.page - 1) * paging.page_size)
    ).all()
    return Page(rows, total or 0, paging)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """Query parameter ``name`` as an integer from ``low`` to ``high`` (400 otherwise)."""
    raw = request.args.get(name)
    if raw is None:
        return default
    value = query_integer(raw)
    if value is None or not low <= value <= high:
        message = f"Must be an integer from {low} to {high}."
        raise ApiError(400, f"Query parameter {name}: {message}", errors={name: [message]})
    return value


def _order_by(sortable: Mapping[str, ColumnElement[Any]]) -> list[ColumnElement[Any]]:
    # NULLs sort as the smallest value on every backend.
    return [
        column.desc().nulls_last() if descending else column.asc().nulls_first()
        for column, descending in requested_sort(sortable)
    ]


def requested_sort(sortable: Mapping[str, Any]) -> list[tuple[Any, bool]]:
    """``sortBy`` as ``(sortable value, descending)`` pairs, in order (400 when invalid)."""
    raw = request.args.get("sortBy", "")
    by_lower = {name.lower(): column for name, column in sortable.items()}
    order: list[tuple[Any, bool]] = []
    problems: list[str] = []
    named: set[str] = set()
    for part in raw.split(","):
        if not part.strip():
            continue
        name, _, direction = part.partition(":")
        column = by_lower.get(name.strip().lower())
        direction = direction.strip().lower() or "asc"
        if column is None:
            problem = f"Unknown field {name.strip()!r}; sortable fields are {', '.join(sortable)}."
            if problem not in problems:
                problems.append(problem)
        elif name.strip().lower() in named:
            # Also what keeps an ORDER BY within SQLite's limit of terms.
            problem = f"{name.strip()} is named more than once."
            if problem not in problems:
                problems.append(problem)
        elif direction not in ("asc", "desc"):
            problems.append(f"Direction of {name.strip()} must be asc or desc.")
        else:
            named.add(name.strip().lower())
            order.append((column, direction == "desc"))
    if problems:
        raise ApiError(
            400, f"Query parameter sortBy: {' '.join(problems)}", errors={"sortBy": problems}
        )
    return order
