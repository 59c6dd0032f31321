"""Flask wiring shared by the example apps (see each app's ``create_app``)."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, jsonify, render_template, request
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from civickit import reminders

log = logging.getLogger(__name__)

# Plain-English titles for the statuses a resident can meet.
_TITLES = {
    400: "There is a problem with your request",
    403: "You cannot do that",
    404: "Page not found",
    405: "That action is not allowed here",
    413: "What you sent is too large",
    429: "Too many attempts",
    500: "Sorry, there is a problem with the service",
    503: "Sorry, the service is unavailable",
}


class ApiError(Exception):
    """Raise in a view to answer ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_error(status: int, code: str, message: str) -> Response:
    """The one JSON error shape every endpoint returns."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def configure(app: Flask, name: str, config: Mapping[str, Any] | None = None) -> None:
    """Set configuration from the environment, then from ``config`` (tests)."""
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    env = os.environ
    app.config.update(
        SECRET_KEY=env.get("SECRET_KEY") or _instance_secret(instance),
        DATABASE_URL=env.get("DATABASE_URL") or f"sqlite:///{instance / (name + '.sqlite3')}",
        REDIS_URL=env.get("REDIS_URL") or None,
        PUBLIC_BASE_URL=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        # Number of trusted proxies in front of the app (X-Forwarded-* hops to believe).
        PROXY_FIX_HOPS=int(env.get("PROXY_FIX_HOPS", "0")),
        MAX_CONTENT_LENGTH=int(env.get("MAX_CONTENT_LENGTH", str(64 * 1024))),
        RATELIMIT_ENABLED=env.get("RATELIMIT_ENABLED", "1") not in ("0", "false", "no"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=(env.get("PUBLIC_BASE_URL") or "").startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # tie the token to the session, not the clock
    )
    if config:
        app.config.update(config)


def _instance_secret(instance: Path) -> str:
    """A per-install secret kept under instance/, so sessions survive restarts."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def make_engine(url: str) -> sa.Engine:
    """The library's engine (SQLite: WAL, busy timeout), plus foreign keys on SQLite."""
    if not url.startswith("sqlite"):
        return reminders.make_engine(url, pool_pre_ping=True)
    engine = reminders.make_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _foreign_keys(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    return engine


def init_app(app: Flask, *, service_name: str) -> None:
    """Errors, security headers, proxies, CSRF, rate limits and the page frame."""
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address
    from flask_wtf.csrf import CSRFError, CSRFProtect

    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)

    CSRFProtect(app)
    # One limiter per app instance (tests build many apps; limits must not leak between
    # them). Views count what they limit themselves, per IP *and* per phone number, on
    # its storage (Redis when configured); no route has a declared limit, so the
    # automatic per-request check is skipped instead of costing every page.
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=app.config["REDIS_URL"] or "memory://",
        enabled=app.config["RATELIMIT_ENABLED"],
    )
    limiter.request_filter(lambda: True)
    app.extensions["civickit.limiter"] = limiter

    app.jinja_loader = ChoiceLoader(
        [
            app.jinja_loader,
            PackageLoader("examples.common", "templates"),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.globals["service_name"] = service_name

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: https://*.tile.openstreetmap.org; "
            "script-src 'self' 'sha256-GUQ5ad8JK5KmEWmROf3LZd9ge94daqNvd8xy9YS1iDw='; "
            "style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
            "form-action 'self'",
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    def wants_json() -> bool:
        if request.path.startswith("/api/") or request.path in ("/healthz", "/readyz"):
            return True
        best = request.accept_mimetypes.best_match(["text/html", "application/json"])
        return best == "application/json"

    def error_page(status: int, message: str) -> tuple[str, int]:
        title = _TITLES.get(status, "There is a problem")
        return render_template("common/error.html", title=title, message=message), status

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        if wants_json():
            return json_error(exc.status, exc.code, exc.message)
        return error_page(exc.status, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        message = "The form expired or was not sent from this site. Go back, reload the page and try again."
        if wants_json():
            return json_error(400, "csrf_failed", message)
        return error_page(400, message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        message = {
            404: "We could not find that page. Check the address, or start again from the home page.",
            413: "The request was too large. Send less and try again.",
            429: "You have tried that too many times. Wait a few minutes and try again.",
        }.get(status, exc.description or _TITLES.get(status, "Something went wrong."))
        if wants_json():
            return json_error(status, code, message)
        return error_page(status, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        message = "Something went wrong on our side. Try again later."
        if wants_json():
            return json_error(500, "internal_error", message)
        return error_page(500, message)
