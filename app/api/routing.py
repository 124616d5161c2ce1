"""The app's URL rules: an API route also matches its path with one trailing slash.

VBAPI runs on ASP.NET, whose routing answers ``/provider-credentialing/5/licenses/`` as
``/provider-credentialing/5/licenses``, and clients written against it may append the slash.
Werkzeug's ``strict_slashes=False`` on a rule without a trailing slash matches the path with
one (not two, not a slash elsewhere) as the rule itself: the same view, and the same 405 with
the same ``Allow`` for another method; never a redirect, which many clients follow as a GET
without the body of a PUT or POST. The UI's rules keep Werkzeug's default (``/ui`` redirects to
``/ui/``; ``/ui/login/`` is no page).
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule

from app.api.paths import is_api_path


class ApiRule(Rule):
    """A URL rule that, on an API path, matches it with one trailing slash too."""

    def __init__(self, string: str, **options: Any) -> None:
        if is_api_path(string):
            options.setdefault("strict_slashes", False)
        super().__init__(string, **options)
