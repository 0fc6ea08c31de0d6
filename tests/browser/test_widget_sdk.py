"""The widget served like an SDK: a pinned, minified build loaded with Subresource Integrity."""

from __future__ import annotations

import json
import urllib.request

import pytest

from .conftest import PAGE_HOST

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


def load_with_integrity(page, pages_root, site_urls, *, url: str, integrity: str) -> bool:
    name = f"sri-{integrity[-8:].replace('/', '_').replace('+', '-')}.html"
    (pages_root / name).write_text(
        f'<!doctype html><html lang="en"><body>'
        f'<script src="{url}" integrity="{integrity}" crossorigin="anonymous"></script>'
        f"</body></html>",
        encoding="utf-8",
    )
    page.goto(f"{site_urls[PAGE_HOST]}/{name}")
    page.wait_for_load_state("load")
    return page.evaluate("typeof LoadProctormeWidget === 'function' && typeof AutoProctor === 'function'")


def test_pinned_build_loads_with_its_integrity_and_not_with_another(
    page, proctorme_url, pages_root, site_urls
):
    with urllib.request.urlopen(f"{proctorme_url}/widget/manifest.json") as response:
        manifest = json.load(response)
    latest = next(b for b in manifest["builds"] if b["build"] == manifest["latest"])

    assert load_with_integrity(page, pages_root, site_urls, url=latest["url"], integrity=latest["integrity"])
    assert page.evaluate("window.Proctorme.version") == latest["release"]

    # The readable build's hash does not match the minified bytes: the browser refuses to run them.
    page.console_messages.clear()
    refused = load_with_integrity(
        page, pages_root, site_urls, url=latest["url"], integrity=latest["sourceIntegrity"]
    )
    assert refused is False
    assert any("integrity" in message for message in page.console_messages)
