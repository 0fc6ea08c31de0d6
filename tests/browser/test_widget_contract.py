"""The widget and sessions/config.py agree on the contract: required fields and defaults.

The values live in sessions/config.py and /widget.js embeds them; these tests check what the
widget does with them in Chromium, so a module that stops using the embedded contract (or a
hand-written copy that drifts) fails here.
"""

from __future__ import annotations

import json

import pytest

from sessions.config import EYE_REQUIRED, MAX_EXAM_SECONDS, TRACKING_DEFAULTS

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


@pytest.fixture
def blank_page(page, proctorme_url, pages_root, site_urls):
    """A page of the institution's site that only loads the widget."""
    from .conftest import PAGE_HOST

    (pages_root / "blank.html").write_text(
        f'<!doctype html><html lang="en"><body><script src="{proctorme_url}/widget.js"></script></body></html>',
        encoding="utf-8",
    )
    page.goto(f"{site_urls[PAGE_HOST]}/blank.html")
    page.wait_for_function("window.Proctorme && window.Proctorme.version")
    return page


def test_eye_widget_requires_exactly_the_servers_fields(blank_page):
    error = blank_page.evaluate(
        """async () => {
            const widget = await LoadProctormeWidget();
            try { await widget.init({}); return null; } catch (e) { return {code: e.code, fields: e.fields}; }
        }"""
    )
    assert error == {"code": "INVALID_CONFIG", "fields": EYE_REQUIRED}


def test_eye_widget_bounds_the_exam_duration_like_the_server(blank_page):
    blank_page.route(
        "**/widget/v1/sessions",
        lambda route: route.fulfill(
            status=401, content_type="application/json", body='{"error": {"code": "INVALID_API_KEY"}}'
        ),
    )
    config = dict.fromkeys(EYE_REQUIRED, "x") | {"candidateEmail": "a@b.example"}
    codes = blank_page.evaluate(
        """async ([config, seconds]) => {
            const out = [];
            for (const examDuration of seconds) {
                const widget = await LoadProctormeWidget();
                try { await widget.init({...config, examDuration, consent: "accepted"}); out.push(null); }
                catch (e) { out.push([e.code, e.fields || null]); }
            }
            return out;
        }""",
        [config, [MAX_EXAM_SECONDS, MAX_EXAM_SECONDS + 1]],
    )
    assert codes == [["INVALID_API_KEY", None], ["INVALID_CONFIG", ["examDuration"]]]


def test_autoproctor_sends_the_servers_tracking_defaults(blank_page):
    sent = []

    def capture(route):
        sent.append(json.loads(route.request.post_data))
        route.fulfill(
            status=401, content_type="application/json", body='{"error": {"code": "INVALID_API_KEY"}}'
        )

    blank_page.route("**/widget/v1/sessions", capture)
    blank_page.evaluate(
        """async () => {
            const ap = new AutoProctor({clientId: "pk_x", testAttemptId: "a-1", hashedTestAttemptId: "x"});
            try { await ap.setup({}); } catch (e) { /* refused by the route above */ }
        }"""
    )
    assert len(sent) == 1
    assert sent[0]["options"]["trackingOptions"] == TRACKING_DEFAULTS
