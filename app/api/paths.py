"""Which request paths belong to the API (JSON envelope, rate limit) and VBAPI's base path."""

from __future__ import annotations

#: Every API route is also served under VBAPI's own base path.
VBAPI_PREFIX = "/vbasoftware"

#: Paths that belong to the staff UI (each prefix itself and what is below it); everything else
#: is the API's.
UI_PREFIXES = ("/ui", "/static")
_BELOW_UI_PREFIXES = tuple(prefix + "/" for prefix in UI_PREFIXES)


def is_api_path(path: str) -> bool:
    """``/uid`` or ``/statics`` is not the UI's: only ``/ui``, ``/static`` and below them."""
    return not (path == "/" or path in UI_PREFIXES or path.startswith(_BELOW_UI_PREFIXES))


def unprefixed(path: str) -> str:
    """``path`` as the root serves it: ``/vbasoftware/healthz`` → ``/healthz``."""
    if path.startswith(VBAPI_PREFIX + "/"):
        return path[len(VBAPI_PREFIX) :]
    return path


def route_path(path: str) -> str:
    """``path`` as its API route is spelled, which also answers it under ``/vbasoftware`` and
    with one trailing slash (``app.api.routing``): ``/vbasoftware/healthz/`` → ``/healthz``."""
    path = unprefixed(path)
    return path[:-1] if len(path) > 1 and path.endswith("/") else path
