"""Finding 15: with the documented production settings `check --deploy` is clean, the widget is
handed wss:// and https:// URLs behind a TLS proxy, and the dashboard has a CSP."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


def documented_production_env() -> dict[str, str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"<!-- production-settings -->\s*```sh\n(.*?)```", text, re.S)
    assert block, "docs/operations.md has no production-settings block"
    env = {}
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, value = line.partition("=")
            env[name] = value
    return env


def test_finding15_check_deploy_is_clean_with_the_documented_settings():
    env = documented_production_env()
    assert env["DEBUG"] == "0" and env["BEHIND_TLS_PROXY"] == "1"
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**keep, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_finding15_behind_a_tls_proxy_the_widget_gets_secure_urls(client, tenant_a):
    from tests.widget.test_session_start import eye_config

    with override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        response = client.post(
            "/widget/v1/sessions",
            data={"dialect": "eye", "config": eye_config(tenant_a)},
            content_type="application/json",
            HTTP_ORIGIN="https://exams.alpha.edu",
            HTTP_X_FORWARDED_PROTO="https",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["wsUrl"].startswith("wss://")
    assert body["uploadUrl"].startswith("https://") and body["endUrl"].startswith("https://")


@pytest.mark.parametrize("name", ["dashboard:sessions", "dashboard:live"])
def test_finding15_dashboard_pages_carry_a_content_security_policy(client, tenant_a, name):
    client.force_login(tenant_a.reviewer)
    response = client.get(reverse(name))
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    nonce = re.search(r"'nonce-([^']+)'", directives["script-src"]).group(1)
    assert "'unsafe-inline'" not in directives["script-src"]
    page = response.content.decode()
    # Every inline script carries this response's nonce; every other script is a file of ours.
    for tag in re.findall(r"<script[^>]*>", page):
        if "src=" not in tag and "application/json" not in tag:
            assert f'nonce="{nonce}"' in tag, tag


def test_finding15_the_sign_in_page_has_it_and_widget_endpoints_do_not(client):
    assert "Content-Security-Policy" in client.get(reverse("login"))
    assert "Content-Security-Policy" not in client.get("/widget.js")
    assert "Content-Security-Policy" not in client.get("/widget/v1/ping")


def test_the_deploy_checks_see_the_middlewares_that_run_on_the_event_loop(settings):
    """proctorme.middleware's subclasses count as Django's own: the checks that depend on them run."""
    from django.core.checks import run_checks

    def warnings() -> set[str]:
        return {m.id for m in run_checks(include_deployment_checks=True, tags=["security"])}

    settings.SECURE_HSTS_SECONDS = 0
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    settings.CSRF_COOKIE_SECURE = False
    found = warnings()
    assert {"security.W004", "security.W019", "security.W016"} <= found
    assert not {"security.W001", "security.W002", "security.W003"} & found
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith(".SecurityMiddleware")]
    assert "security.W001" in warnings()
