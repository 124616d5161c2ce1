"""Nothing the app writes or answers takes its host from the request.

The ``Host`` header (or ``X-Forwarded-Host``, through a trusted proxy that passes on what it
received) is written by the client. Two places built URLs from it:

- the integrity review's CSV linked each finding with ``url_for(..., _external=True)``: a
  forged host went into a file a reviewer downloads and clicks through later. Links written
  into files are now ``public_link``: the app's path under ``FLASK_PUBLIC_URL``, or the path
  alone (as the command line has always written it) when none is configured;
- Werkzeug's redirect of a path without its trailing slash (``/ui`` → ``/ui/``) is absolute,
  built from the request's host; ``relative_slash_redirect`` answers it with a path (RFC 9110
  allows a relative ``Location``), as every redirect of the app's own views already is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, redirect, request
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response


def public_link(path: str) -> str:
    """``path`` (as ``url_for`` builds it) under the configured public URL, if there is one."""
    return current_app.config["PUBLIC_URL"] + path


def relative_slash_redirect() -> Response | None:
    """App ``before_request``: Werkzeug's redirect to the path with its trailing slash, as a
    path. Werkzeug builds it absolute from the request's host, into ``Location`` and into its
    HTML body; Flask hands routing redirects to no error handler, so it is answered here,
    before the view that would raise it."""
    moved = request.routing_exception
    if not isinstance(moved, RequestRedirect):
        return None
    # Its path (the script root included) and query alone, whatever host it names: Werkzeug
    # spells the host otherwise than ``request.host_url`` does (an IDNA host), so keeping the
    # URL unless it began with the latter sent such a host back absolute. One leading slash:
    # "//x" would be a URL of host x.
    moved_to = urlsplit(moved.new_url)
    target = "/" + moved_to.path.lstrip("/") + (f"?{moved_to.query}" if moved_to.query else "")
    return redirect(target, moved.code)


def register_relative_redirects(app: Flask) -> None:
    """After the hooks that name every request (activity id, rate limit): a redirect answered
    here is logged and carries the headers of every other answer."""
    app.before_request(relative_slash_redirect)
