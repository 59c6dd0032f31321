"""Flask wiring shared by the example apps (see each app's ``create_app``).

:func:`configure` reads the settings; :func:`init_app` runs the named steps
below, in order: insist on a public address outside tests and debugging,
answer only to the app's own host names, trust the
configured proxies, protect forms against CSRF, count attempts against rate
limits, find templates, add security headers, and answer every error in the
one shape.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    render_template,
    request,
)
from flask.cli import NoAppException
from jinja2 import BaseLoader, ChoiceLoader, PackageLoader, PrefixLoader
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix

from civickit.errors import CivicKitError

if TYPE_CHECKING:
    from flask_limiter import Limiter
    from flask_wtf.csrf import CSRFProtect

log = logging.getLogger(__name__)
T = TypeVar("T")

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

#: The one inline script the pages carry, allowed by its hash: GOV.UK Frontend's
#: page template (``govuk_frontend_jinja/template.html``) opens ``<body>`` with
#: ``document.body.className += ' js-enabled' + ('noModule' in
#: HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');``.
#: tests/test_common_web.py recomputes the hash from the installed template.
GOVUK_JS_ENABLED_SCRIPT = "sha256-GUQ5ad8JK5KmEWmROf3LZd9ge94daqNvd8xy9YS1iDw="

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # streetwise's map tiles
        "img-src 'self' data: https://*.tile.openstreetmap.org",
        f"script-src 'self' '{GOVUK_JS_ENABLED_SCRIPT}'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


class MissingSetting(CivicKitError, NoAppException):
    """A setting production cannot run without; the message says which and what to set.

    Also Flask's ``NoAppException``, so the ``flask`` command prints it as one
    line ("Error: ...") instead of a traceback.
    """


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


def new_app(import_name: str) -> Flask:
    """The Flask app, its instance folder (SQLite files, secret key, working files)
    at ``INSTANCE_PATH`` when set, else Flask's ``instance/`` beside the code.

    A deployment whose code is read-only points it elsewhere; the test suite
    points it at a temporary folder, so no test writes into the repository.
    """
    chosen = os.environ.get("INSTANCE_PATH")
    return Flask(import_name, instance_path=str(Path(chosen).resolve()) if chosen else None)


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
        # Other host names to answer to besides PUBLIC_BASE_URL's (see trust_hosts).
        TRUSTED_HOSTS=[h.strip() for h in env.get("TRUSTED_HOSTS", "").split(",") if h.strip()],
        # Number of trusted proxies in front of the app (X-Forwarded-For/-Proto hops to believe).
        PROXY_FIX_HOPS=int(env.get("PROXY_FIX_HOPS", "0")),
        # X-Forwarded-Host/-Prefix hops: never believed unless asked for (see trust_proxies).
        PROXY_FIX_X_HOST=int(env.get("PROXY_FIX_X_HOST", "0")),
        PROXY_FIX_X_PREFIX=int(env.get("PROXY_FIX_X_PREFIX", "0")),
        MAX_CONTENT_LENGTH=int(env.get("MAX_CONTENT_LENGTH", str(64 * 1024))),
        RATELIMIT_ENABLED=env.get("RATELIMIT_ENABLED", "1") not in ("0", "false", "no"),
        # Who may see /readyz's detail: `Authorization: Bearer <token>` (nobody when unset).
        READYZ_TOKEN=env.get("READYZ_TOKEN") or None,
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


# -- init_app and its steps ------------------------------------------------------------

_WEB = "examples.common.web"  # this module's one key in app.extensions


@dataclass(frozen=True)
class _Web:
    csrf: CSRFProtect
    limiter: Limiter
    made: dict[Callable[[Flask], Any], Any] = field(default_factory=dict)  # see made_once
    lock: threading.RLock = field(default_factory=threading.RLock)


def init_app(app: Flask, *, service_name: str) -> None:
    """Address, hosts, proxies, CSRF, rate limits, templates, headers and error pages, in order."""
    require_public_address(app)
    trust_hosts(app)
    trust_proxies(app)
    app.extensions[_WEB] = _Web(csrf=protect_forms(app), limiter=count_attempts(app))
    find_templates(app, service_name)
    add_security_headers(app)
    answer_errors(app)


def made_once(app: Flask, make: Callable[[Flask], T]) -> T:
    """``make(app)``, made the first time it is asked for and then kept for the app's life.

    How each app's ``state.py`` keeps its long-lived objects: one of each per
    app (tests build many apps), made on first use (a command that never
    needs the crime snapshot never parses it, and settings changed after
    ``create_app`` still apply), and made once even when threads ask at once.
    ``make`` may ask for other such objects.
    """
    web: _Web = app.extensions[_WEB]
    try:
        found: T = web.made[make]
        return found
    except KeyError:
        pass
    with web.lock:  # re-entrant: make() may ask for what it is built on
        if make not in web.made:
            web.made[make] = make(app)
        made: T = web.made[make]
        return made


def show_sample_notice(app: Flask, is_sample: Callable[[], bool]) -> None:
    """Tell every page whether it is built on sample data: ``sample_data`` in its templates.

    ``common/base.html`` then shows the "Sample data" notice (a page adds its
    own detail in the ``sample_data_detail`` block). An app calls this once,
    saying what makes its pages sample data; if the database cannot say, a
    page shows no notice rather than no page.
    """

    @app.context_processor
    def _sample_data() -> dict[str, bool]:
        try:
            return {"sample_data": is_sample()}
        except SQLAlchemyError:
            log.warning("could not tell whether the data is a sample", exc_info=True)
            return {"sample_data": False}


def get_limiter(app: Flask | None = None) -> Limiter:
    """The app's rate limiter (views count their own attempts on its storage)."""
    web: _Web = (app or current_app).extensions[_WEB]
    return web.limiter


def spend_limit(limits: str, *key: str) -> bool:
    """Count one attempt for ``key`` against each of ``limits`` ("10/hour;30/day").

    False when any of them was already spent (the attempt is refused); always
    True with the limiter switched off. Views call this for what they limit,
    keyed by what they limit (``"signup", "ip", address``).
    """
    from limits import parse_many

    limiter = get_limiter()
    if not limiter.enabled:
        return True
    allowed = True
    for item in parse_many(limits):
        allowed = limiter.limiter.hit(item, *key) and allowed
    return allowed


def limit_has_room(limits: str, *key: str) -> bool:
    """Whether one more attempt for ``key`` fits every one of ``limits``, without counting it.

    For limits that count only what succeeded: check here first, then
    :func:`spend_limit` once it has.
    """
    from limits import parse_many

    limiter = get_limiter()
    return not limiter.enabled or all(
        limiter.limiter.test(item, *key) for item in parse_many(limits)
    )


def exempt_from_csrf(app: Flask, blueprint: Blueprint) -> None:
    """Let ``blueprint`` take POSTs without a CSRF token (it must check its callers itself)."""
    web: _Web = app.extensions[_WEB]
    web.csrf.exempt(blueprint)


def require_public_address(app: Flask) -> None:
    """Refuse to start without ``PUBLIC_BASE_URL``, unless testing or debugging.

    Every link the apps hand out (calendar buttons, feed URLs, the unsubscribe
    link in a text) and the URL Twilio's signatures are checked against are
    built from it, never from the ``Host`` header a client chose.
    """
    if not (app.config.get("PUBLIC_BASE_URL") or app.testing or app.debug or _asking_for_help()):
        raise MissingSetting(
            "PUBLIC_BASE_URL is not set: set it to the address residents use, such as "
            "https://bins.example.org (links are built from it), or run with --debug locally"
        )


def _asking_for_help() -> bool:
    """True while the ``flask`` command loads the app only to print a command's help
    (``flask --app ... bins -h``): help needs no configuration, and serves nothing."""
    import sys

    import click

    return click.get_current_context(silent=True) is not None and bool(
        {"-h", "--help"} & set(sys.argv[1:])
    )


def public_url(path: str) -> str:
    """``path`` (from ``url_for``) on the app's public address.

    ``PUBLIC_BASE_URL`` when set; otherwise (tests and debugging only) the
    request's own host, which :func:`trust_hosts` has limited to loopback names.
    """
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")
    return base + path


#: The names a development or test app answers to when no PUBLIC_BASE_URL is set.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


def trust_hosts(app: Flask) -> None:
    """Answer 400 to a ``Host`` header that is malformed or names another site.

    Flask's ``TRUSTED_HOSTS`` becomes the host of ``PUBLIC_BASE_URL`` (or, with
    none set, the loopback names) plus any names the configuration already
    lists (``TRUSTED_HOSTS``, comma-separated in the environment: for example
    the internal name a load balancer's health checks use). Werkzeug then
    refuses any other name, bad characters, and ports outside 1-65535.
    """
    base = app.config.get("PUBLIC_BASE_URL")
    own = [urlsplit(base).hostname or ""] if base else list(LOOPBACK_HOSTS)
    extra = [h for h in app.config.get("TRUSTED_HOSTS") or () if h not in own]
    app.config["TRUSTED_HOSTS"] = own + extra


def trust_proxies(app: Flask) -> None:
    """Believe ``PROXY_FIX_HOPS`` proxies' X-Forwarded-For and -Proto (none by default).

    X-Forwarded-Host and -Prefix are believed only for ``PROXY_FIX_X_HOST`` and
    ``PROXY_FIX_X_PREFIX`` hops (0 unless set): links and Twilio's signature
    check are built on ``PUBLIC_BASE_URL``, and a forwarded host or prefix
    passed through from a client would otherwise choose the URL checked.
    """
    config = app.config
    hops, x_host, x_prefix = (
        config["PROXY_FIX_HOPS"],
        config.get("PROXY_FIX_X_HOST", 0),
        config.get("PROXY_FIX_X_PREFIX", 0),
    )
    if hops or x_host or x_prefix:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=x_host, x_prefix=x_prefix
        )


def protect_forms(app: Flask) -> CSRFProtect:
    """Every POST needs the session's CSRF token (Flask-WTF)."""
    from flask_wtf.csrf import CSRFProtect

    return CSRFProtect(app)


def count_attempts(app: Flask) -> Limiter:
    """A rate limiter for the views to count attempts on (Redis when ``REDIS_URL`` is set).

    One limiter per app instance (tests build many apps; limits must not leak
    between them). Views count what they limit themselves, per IP *and* per
    phone number; no route has a declared limit, so the automatic per-request
    check is skipped instead of costing every page.
    """
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=app.config["REDIS_URL"] or "memory://",
        enabled=app.config["RATELIMIT_ENABLED"],
    )
    limiter.request_filter(lambda: True)
    return limiter


def find_templates(app: Flask, service_name: str) -> None:
    """The app's templates, then ``common/`` (the page frame), then the GOV.UK macros."""
    loaders: list[BaseLoader] = [] if app.jinja_loader is None else [app.jinja_loader]
    loaders += [
        PackageLoader("examples.common", "templates"),
        PrefixLoader(
            {
                "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
            }
        ),
    ]
    app.jinja_loader = ChoiceLoader(loaders)
    app.jinja_env.globals["service_name"] = service_name


def add_security_headers(app: Flask) -> None:
    """CSP, no framing, no sniffing, a strict referrer, no device APIs; HSTS over https.

    A response that carries the session's CSRF token (any page with a form that
    posts) is ``Cache-Control: private, no-store``: no cache may keep one
    visitor's token, or serve it to another.
    """

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        if app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token") in g:  # Flask-WTF made one
            headers["Cache-Control"] = "private, no-store"
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def readiness(checks: Mapping[str, Mapping[str, Any]]) -> Response:
    """The answer of ``/readyz``: 200 when every check is ok, else 503.

    Anyone sees ``{"status": "ready" | "not_ready"}``. The checks themselves
    (import times, row counts, the scheduler's heartbeat) go only to a caller
    presenting ``Authorization: Bearer <READYZ_TOKEN>``.
    """
    ready = all(check["ok"] for check in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready"}
    if _may_see_detail():
        body["checks"] = checks
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def _may_see_detail() -> bool:
    token: str | None = current_app.config.get("READYZ_TOKEN")
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(
        given.strip().encode(), token.encode()
    )


def wants_json() -> bool:
    """True for the API, the health checks, and clients that prefer JSON to HTML."""
    if request.path.startswith("/api/") or request.path in ("/healthz", "/readyz"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_answer(status: int, code: str, message: str) -> Response | tuple[str, int]:
    """The JSON error shape, or the GOV.UK error page, whichever the client wants."""
    if wants_json():
        return json_error(status, code, message)
    title = _TITLES.get(status, "There is a problem")
    return render_template("common/error.html", title=title, message=message), status


def answer_errors(app: Flask) -> None:
    """API errors, CSRF failures, HTTP errors and anything unexpected: plain words, no traceback."""
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response | tuple[str, int]:
        return error_answer(exc.status, exc.code, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Response | tuple[str, int]:
        return error_answer(
            400,
            "csrf_failed",
            "The form expired or was not sent from this site. "
            "Go back, reload the page and try again.",
        )

    @app.errorhandler(SecurityError)
    def _untrusted_host(exc: SecurityError) -> Response:
        # No page frame: it builds links, and no URL can be built for a host we refuse.
        message = "This service does not answer to that host name. Use its public address."
        if wants_json():
            return json_error(400, "untrusted_host", message)
        return Response(message + "\n", 400, mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | tuple[str, int]:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        message = {
            404: "We could not find that page. Check the address, or start again from the home page.",
            413: "The request was too large. Send less and try again.",
            429: "You have tried that too many times. Wait a few minutes and try again.",
        }.get(status, exc.description or _TITLES.get(status, "Something went wrong."))
        return error_answer(status, code, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | tuple[str, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_answer(
            500, "internal_error", "Something went wrong on our side. Try again later."
        )
