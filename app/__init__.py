"""credgrid: provider-credentialing licenses, VBAPI-compatible."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application: config, extensions, blueprints, error handlers, CLI."""
    from app.activity import register_activity_tracking
    from app.api.blueprints import register_api
    from app.api.converters import Int32Converter
    from app.api.paths import VBAPI_PREFIX
    from app.api.rate_limit import register_rate_limit
    from app.api.routing import ApiRule
    from app.cli import register_cli
    from app.config import instance_folder, load_config
    from app.errors import register_error_handlers
    from app.extensions import csrf, db
    from app.health import bp as health_bp
    from app.public_url import register_relative_redirects
    from app.security_headers import register_security_headers
    from app.tenancy import close_request_sessions, configure_engines, watch_sqlite_files
    from app.ui import register_ui
    from app.ui.login import limit_form_size

    app = Flask(
        __name__,
        instance_path=instance_folder(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    load_config(app, test_config)
    if proxies := app.config["TRUSTED_PROXIES"]:
        # Client address, scheme and host from that many X-Forwarded-* hops, no more.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
    configure_engines(app)

    db.init_app(app)
    watch_sqlite_files(app)
    # Before CSRFProtect's own hook, the first to read a form: the UI's body limit applies then.
    app.before_request(limit_form_size)
    csrf.init_app(app)
    app.teardown_appcontext(close_request_sessions)

    register_activity_tracking(app)
    register_rate_limit(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_relative_redirects(app)
    # "//" in a path is a 404 like any unknown path, not a redirect with an HTML body.
    app.url_map.merge_slashes = False
    app.url_rule_class = ApiRule  # "/x/" is the API route "/x" (VBAPI's ASP.NET routing)
    app.register_blueprint(health_bp)
    app.register_blueprint(health_bp, url_prefix=VBAPI_PREFIX, name=f"vbapi_{health_bp.name}")
    app.url_map.converters["int32"] = Int32Converter  # VBAPI keys, in API and UI routes
    register_api(app)
    register_ui(app)
    register_cli(app)
    if app.config["GC_FREEZE_AT_START"]:
        freeze_start_up_objects()
    return app


def freeze_start_up_objects() -> None:
    """Collect what start-up left behind, then exempt everything that is left (modules, the
    app, its engines and caches) from the cyclic garbage collector.

    These objects live as long as the process, yet without this every full collection walks
    all of them again: a pause that grows with what start-up imported, paid by whichever
    request happens to trigger it. Under a pre-forking server it also keeps the collector from
    writing to memory pages that workers share with the master.
    """
    gc.collect()
    gc.freeze()
