"""What each API view promises, declared beside the view and read by ``app.api.openapi``.

The decorator stores an ``Operation`` on the view function; the OpenAPI document is built from
the app's URL map and these declarations, so a route without one is caught by the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from marshmallow import Schema

View = TypeVar("View", bound=Callable[..., Any])

#: ``data``: x-api-key + Bearer; ``login``: x-api-key + Basic; ``refresh``: x-api-key only.
Security = Literal["data", "login", "refresh", "none"]
#: ``one``/``many``: the envelope's ``data`` is a record / a list of records (``schema``);
#: ``batch``: a list of item results (207); ``empty``: no body (204); ``raw``: a JSON object
#: without envelope (the OpenAPI document itself).
Shape = Literal["one", "many", "batch", "empty", "raw"]


@dataclass(frozen=True)
class Operation:
    """One operation. The error responses follow from it: every operation may answer 500; an
    authenticated one 400 (database header), 401 and 429; ``writes`` adds 403, ``body`` 400, 413
    and 415, a query parameter or a path parameter 400 or 404; ``errors`` adds the rest."""

    summary: str
    tag: str
    status: int
    shape: Shape
    schema: type[Schema] | None = None
    description: str = ""
    security: Security = "data"
    writes: bool = False
    body: type[Schema] | None = None
    body_is_array: bool = False
    #: names of query and header parameter components (``app.api.openapi``)
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()
    #: other statuses answered with the success's body, and what they mean.
    other_statuses: tuple[tuple[int, str], ...] = ()
    #: a list with ``page``, ``pageSize``, ``sortBy`` and the ``x-pagination`` header
    paged: bool = False
    #: the ``sortBy`` field names when they are not every field of ``schema``
    sortable: tuple[str, ...] = ()
    #: whether a paged list takes ``sortBy`` (``False``: it has one fixed order)
    sort_by: bool = True

    def query_names(self) -> frozenset[str]:
        """The query parameters the operation takes (any other is refused, ``query_check``)."""
        paging = ("page", "pageSize", *(("sortBy",) if self.sort_by else ())) if self.paged else ()
        return frozenset((*paging, *self.query))


def documented(**kwargs: Any) -> Callable[[View], View]:
    """Attach an ``Operation`` (see its fields) to a view function."""
    operation = Operation(**kwargs)

    def attach(view: View) -> View:
        view.__openapi__ = operation  # type: ignore[attr-defined]
        return view

    return attach


def operation_of(view: Callable[..., Any]) -> Operation | None:
    return getattr(view, "__openapi__", None)
