"""Production serves its own static files (WhiteNoise): hashed names, compressed, cached for good."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client


@pytest.fixture
def production_static(settings, tmp_path):
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "proctorme.staticstorage.StaticStorage"},
    }
    call_command("collectstatic", "--noinput", stdout=StringIO())
    return settings.STATIC_ROOT


def test_pages_link_hashed_files_that_the_app_serves_compressed_and_immutable(production_static, db):
    # One collectstatic for all the checks: it compresses every file (seconds on a busy machine).
    client = Client()  # a new handler: WhiteNoise indexes STATIC_ROOT when it starts
    page = client.get("/accounts/login/").content.decode()
    href = re.search(r'href="(/static/dashboard/dashboard\.[0-9a-f]{12}\.css)"', page)
    assert href, "the sign-in page links the content-hashed stylesheet"
    response = client.get(href.group(1), HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "immutable" in response["Cache-Control"] and "max-age=315360000" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    import gzip

    assert b".auth-card" in gzip.decompress(body)
    plain = client.get("/static/dashboard/dashboard.css")
    assert plain.status_code == 200 and "immutable" not in plain["Cache-Control"]
    # The vendored libraries survive post-processing (their source-map comments are left alone).
    assert list((production_static / "dashboard" / "vendor").glob("chart-4.6.1.umd.min.*.js"))

    # The same under ASGI, on the middleware's async path: the same file, the same headers.
    hashed = _asgi_get(href.group(1), {"accept-encoding": "gzip"})
    assert hashed["status"] == 200
    for name in ("Content-Encoding", "Cache-Control", "Content-Type", "Content-Length", "ETag", "Vary"):
        assert hashed["headers"][name.lower()] == response[name], name
    assert gzip.decompress(hashed["body"]) == gzip.decompress(body)
    assert _asgi_get("/static/dashboard/dashboard.css")["headers"]["cache-control"] == plain["Cache-Control"]
    assert _asgi_get("/static/no-such-file.css")["status"] == 404  # on down the chain: Django's 404


def _asgi_get(path: str, headers: dict | None = None) -> dict:
    """One GET through Django's own ASGI handler (a new one: WhiteNoise indexes at start)."""
    import asyncio

    from asgiref.sync import async_to_sync
    from django.core.handlers.asgi import ASGIHandler

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []
    bodies = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if bodies:
            return bodies.pop()
        await asyncio.Event().wait()  # no disconnect: Django stops listening once it has answered

    async def send(message):
        sent.append(message)

    async_to_sync(ASGIHandler())(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return {
        "status": start["status"],
        "headers": {k.decode().lower(): v.decode() for k, v in start["headers"]},
        "body": b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
    }


def test_debug_serves_from_the_source_tree_under_asgi_and_wsgi(settings, db):
    """DEBUG: WhiteNoise's autorefresh (files found on each request, not indexed at start)."""
    settings.DEBUG = True
    settings.WHITENOISE_AUTOREFRESH = True
    settings.WHITENOISE_USE_FINDERS = True
    source = (settings.BASE_DIR / "static" / "dashboard" / "dashboard.css").read_bytes()
    wsgi = Client().get("/static/dashboard/dashboard.css")
    assert wsgi.status_code == 200 and b"".join(wsgi.streaming_content) == source
    asgi = _asgi_get("/static/dashboard/dashboard.css")
    assert asgi["status"] == 200 and asgi["body"] == source
    assert asgi["headers"]["cache-control"] == wsgi["Cache-Control"]
