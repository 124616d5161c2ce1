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
#: ``batch``: a 207 list of item results; ``empty``: 204; ``raw``: ``schema`` without envelope.
Shape = Literal["one", "many", "batch", "empty", "raw"]


@dataclass(frozen=True)
class Operation:
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
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()
    paged: bool = False


def documented(**kwargs: Any) -> Callable[[View], View]:
    """Attach an ``Operation`` (see its fields) to a view function."""
    operation = Operation(**kwargs)

    def attach(view: View) -> View:
        view.__openapi__ = operation  # type: ignore[attr-defined]
        return view

    return attach


def operation_of(view: Callable[..., Any]) -> Operation | None:
    return getattr(view, "__openapi__", None)
