"""The npm loader package (@proctorme/loader, built by `make loader`) in Chromium: it loads the
widget from the server, once, pinned with its integrity when asked, and rejects a bad hash."""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import require

from .conftest import PAGE_HOST

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]

DIST = Path(__file__).resolve().parents[2] / "static" / "proctorme" / "loader" / "dist" / "index.js"


@pytest.fixture
def loader_page(page, pages_root, site_urls):
    require(DIST.exists(), "the loader package is not built: run `make loader` (make test does)")
    shutil.copy(DIST, pages_root / "proctorme-loader.js")

    def run(script: str):
        name = f"loader-{uuid.uuid4().hex[:8]}.html"
        (pages_root / name).write_text(
            '<!doctype html><html lang="en"><head><link rel="icon" href="data:,"></head><body>'
            '<script type="module">import { loadProctorme } from "./proctorme-loader.js";'
            f"window.outcome = (async () => {{ {script} }})().catch(e => ({{error: String(e.message)}}));"
            "</script></body></html>",
            encoding="utf-8",
        )
        page.goto(f"{site_urls[PAGE_HOST]}/{name}")
        page.wait_for_function("window.outcome !== undefined")
        return page.evaluate("window.outcome")

    return run


def test_loads_the_current_widget_once(loader_page, page, proctorme_url):
    outcome = loader_page(
        f"""const a = await loadProctorme({{ server: "{proctorme_url}/some/path" }});
        const b = await loadProctorme({{ server: "{proctorme_url}" }});
        const widget = await a.LoadProctormeWidget();
        return {{same: a.Proctorme === b.Proctorme, ap: typeof a.AutoProctor, on: typeof widget.on,
                 server: a.Proctorme.server, scripts: document.querySelectorAll("script[src*='/widget']").length}};"""
    )
    assert outcome == {
        "same": True,
        "ap": "function",
        "on": "function",
        "server": proctorme_url,
        "scripts": 1,
    }


def test_a_pinned_build_loads_with_its_integrity_and_a_wrong_hash_rejects(loader_page, proctorme_url):
    with urllib.request.urlopen(f"{proctorme_url}/widget/manifest.json") as response:
        manifest = json.load(response)
    latest = next(b for b in manifest["builds"] if b["build"] == manifest["latest"])
    options = {"server": proctorme_url, "build": latest["build"], "integrity": latest["integrity"]}
    outcome = loader_page(
        f"const p = await loadProctorme({json.dumps(options)}); return p.Proctorme.version;"
    )
    assert outcome == latest["release"]

    wrong = dict(options, integrity=latest["sourceIntegrity"])
    outcome = loader_page(f"return await loadProctorme({json.dumps(wrong)});")
    assert "could not load" in outcome["error"]


def test_a_bad_server_or_build_is_refused_before_any_request(loader_page):
    outcome = loader_page('return await loadProctorme({ server: "not a url" });')
    assert "Invalid URL" in outcome["error"]
    outcome = loader_page('return await loadProctorme({ server: "https://x.example", build: "../../evil" });')
    assert "is not a build name" in outcome["error"]
