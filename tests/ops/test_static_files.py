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
