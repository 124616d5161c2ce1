"""The session cookie is marked ``Secure`` whenever the request came over HTTPS, and an answer
that sets it is never cached.

``SESSION_COOKIE_SECURE`` still forces it on (set it behind a TLS-terminating proxy, where the
app itself sees plain HTTP).

An answer that sets the cookie carries that person's session (the login page's CSRF secret, a
flash message, a fresh session after login): a shared cache that kept it would hand the same
session to the next visitor. Signed-in pages are ``no-store`` already (``app.security_headers``);
the login page, seen before signing in, was not.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.wrappers import Response


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        if super().get_cookie_secure(app):
            return True
        return has_request_context() and request.is_secure

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        super().save_session(app, session, response)
        if "Set-Cookie" in response.headers:
            response.headers["Cache-Control"] = "no-store"
