"""The wiring both example apps share: one JSON error shape, headers, CSRF, no tracebacks."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from flask import Blueprint, Flask, render_template_string, request

from examples.common import ApiError, configure, init_app
from examples.common.web import GOVUK_JS_ENABLED_SCRIPT


def _app(tmp_path, **config):
    app = Flask(__name__, instance_path=str(tmp_path / "instance"))
    configure(app, "demo", {"TESTING": True, "MAX_CONTENT_LENGTH": 1024, **config})
    init_app(app, service_name="Demo service")
    main = Blueprint("main", __name__)

    @main.get("/")
    def index():
        return render_template_string(
            '{% extends "common/base.html" %}{% block content %}<h1>Hi</h1>{% endblock %}'
        )

    @main.post("/form")
    def form():
        return f"posted {len(request.form)} fields"

    @main.get("/api/thing")
    def thing():
        raise ApiError(422, "bad_thing", "That thing is not right.")

    @main.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    app.register_blueprint(main)
    return app


@pytest.fixture
def app(tmp_path):
    return _app(tmp_path)


def test_page_frame_has_service_name_and_no_crown(app):
    html = app.test_client().get("/").get_data(as_text=True)
    assert "Demo service" in html
    assert "govuk-header__logotype" not in html  # no crown
    assert "Crown copyright" not in html


@pytest.mark.parametrize("path", ["/api/missing", "/api/thing"])
def test_api_errors_have_the_one_shape(app, path):
    response = app.test_client().get(path)
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert response.status_code in (404, 422)


def test_unexpected_error_shows_no_traceback(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "secret internals" not in text and "Traceback" not in text
    assert "Sorry, there is a problem" in text


def test_missing_csrf_token_is_a_400_with_plain_words(app):
    response = app.test_client().post("/form", data={"x": "1"})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)


def test_oversized_body_is_413_not_500(app):
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post("/form", data={"x": "y" * 5000})
    assert response.status_code == 413


def test_security_headers(app):
    headers = app.test_client().get("/").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


def test_every_inline_script_is_allowed_by_its_csp_hash(app):
    """The CSP names the one inline script (GOV.UK's js-enabled line) by its hash, and no other."""
    response = app.test_client().get("/")
    html = response.get_data(as_text=True)
    inline = [
        body
        for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        if "src=" not in attrs and "application/json" not in attrs
    ]
    assert [s for s in inline if "js-enabled" in s], "the GOV.UK template's inline script is gone"
    hashes = {
        "sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in inline
    }
    assert hashes == {GOVUK_JS_ENABLED_SCRIPT}
    assert f"'{GOVUK_JS_ENABLED_SCRIPT}'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("bins.example.org", 200),
        ("bins.example.org:443", 200),
        ("internal.lan:8001", 200),  # named in TRUSTED_HOSTS (a health checker's name)
        ("localhost", 400),  # the loopback names are for apps without a public address
        ("evil.example", 400),
        ("bins.example.org.evil.example", 400),
        ("bins.example.org:99999", 400),
        ("a b", 400),
    ],
)
def test_only_the_public_host_and_those_named_are_answered(tmp_path, host, status):
    app = _app(tmp_path, PUBLIC_BASE_URL="https://bins.example.org", TRUSTED_HOSTS=["internal.lan"])
    client = app.test_client()
    for path in ("/", "/api/thing"):
        response = client.get(path, headers={"Host": host})
        assert response.status_code in ((status,) if status == 400 else (200, 422)), path
        if status == 400:
            assert "does not answer to that host name" in response.get_data(as_text=True)
            assert response.headers["X-Frame-Options"] == "DENY"


def test_trusted_hosts_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://bins.example.org/")
    monkeypatch.setenv("TRUSTED_HOSTS", " internal.lan, 10.0.0.5 ,")
    app = _app(tmp_path)
    assert app.config["TRUSTED_HOSTS"] == ["bins.example.org", "internal.lan", "10.0.0.5"]


@pytest.mark.parametrize("app_name", ["leeds_bins", "streetwise"])
def test_production_refuses_to_start_without_a_public_address(tmp_path, app_name, monkeypatch):
    import importlib

    from examples.common.web import MissingSetting

    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    create_app = importlib.import_module(f"examples.{app_name}").create_app
    config = {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}", "SECRET_KEY": "x"}
    with pytest.raises(MissingSetting) as raised:
        create_app(config)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("PUBLIC_BASE_URL is not set")
    # the same app starts when told its address (and as a test, or in debug mode)
    assert create_app({**config, "PUBLIC_BASE_URL": "https://bins.example.org"})
    assert create_app({**config, "TESTING": True})


def test_without_a_public_address_only_loopback_hosts_are_answered(app):
    client = app.test_client()
    assert client.get("/", headers={"Host": "127.0.0.1:8001"}).status_code == 200
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400


def _seen(tmp_path, headers, **config):
    app = _app(tmp_path, **config)

    @app.get("/seen")
    def seen():
        return {"url": request.url, "ip": request.remote_addr}

    return app.test_client().get("/seen", headers=headers).get_json()


FORWARDED = {
    "X-Forwarded-For": "198.51.100.7, 203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "127.0.0.1",
    "X-Forwarded-Prefix": "/elsewhere",
}


def test_proxy_hops_believe_the_client_address_and_scheme_only(tmp_path):
    assert _seen(tmp_path, FORWARDED) == {"url": "http://localhost/seen", "ip": "127.0.0.1"}
    # one proxy: its view of the client (the last address it added) and the scheme
    assert _seen(tmp_path, FORWARDED, PROXY_FIX_HOPS=1) == {
        "url": "https://localhost/seen",
        "ip": "203.0.113.9",
    }
    # the host and prefix only when asked for
    assert _seen(tmp_path, FORWARDED, PROXY_FIX_HOPS=1, PROXY_FIX_X_HOST=1)["url"] == (
        "https://127.0.0.1/seen"
    )
    assert _seen(tmp_path, FORWARDED, PROXY_FIX_HOPS=1, PROXY_FIX_X_PREFIX=1)["url"] == (
        "https://localhost/elsewhere/seen"
    )


def test_the_flask_command_says_what_is_missing_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_BASE_URL", "FLASK_DEBUG")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "examples.streetwise", "routes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = [x for x in result.stderr.splitlines() if "PUBLIC_BASE_URL" in x]
    assert line.startswith("Error: PUBLIC_BASE_URL is not set: set it to")
