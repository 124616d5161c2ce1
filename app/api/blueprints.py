"""Registers every API blueprint at the root and again under VBAPI's ``/vbasoftware``."""

from __future__ import annotations

from flask import Flask, Response, request

from app.api.paths import VBAPI_PREFIX, is_api_path


def register_api(app: Flask) -> None:
    from app.api.auth import bp as auth_api
    from app.api.credentials import bp as credentials_api
    from app.api.license_types import bp as license_types_api
    from app.api.licenses import bp as licenses_api
    from app.api.monitoring import bp as monitoring_api
    from app.api.openapi import bp as openapi_api
    from app.extensions import csrf

    for blueprint in (
        auth_api,
        licenses_api,
        monitoring_api,
        credentials_api,
        license_types_api,
        openapi_api,
    ):
        app.register_blueprint(blueprint)
        app.register_blueprint(blueprint, url_prefix=VBAPI_PREFIX, name=f"vbapi_{blueprint.name}")
        # The API authenticates with headers, not cookies: CSRF tokens do not apply.
        csrf.exempt(blueprint)
    app.after_request(options_without_body)


def options_without_body(response: Response) -> Response:
    """``OPTIONS`` on an API route: 204 with ``Allow``, not Flask's empty 200 ``text/html``
    (the API answers JSON or nothing)."""
    if request.method == "OPTIONS" and is_api_path(request.path) and response.status_code == 200:
        response.status_code = 204
        response.set_data(b"")
        del response.headers["Content-Type"]
    return response
