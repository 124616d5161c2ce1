"""The session cookie is marked ``Secure`` whenever the request came over HTTPS.

``SESSION_COOKIE_SECURE`` still forces it on (set it behind a TLS-terminating proxy, where the
app itself sees plain HTTP).
"""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        if super().get_cookie_secure(app):
            return True
        return has_request_context() and request.is_secure
