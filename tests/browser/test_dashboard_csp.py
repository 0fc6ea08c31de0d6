"""Finding 15: the dashboard works under its own Content-Security-Policy, in a browser that enforces it."""

from __future__ import annotations

import pytest

from .dashboard_support import flagged_session, reviewers, sign_in  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser]

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


def test_finding15_the_dashboard_runs_under_its_csp_without_a_violation(
    browser,
    proctorme_url,
    reviewers,  # noqa: F811
):
    session = flagged_session(reviewers.institution).session
    context = browser.new_context(viewport={"width": 1360, "height": 900})  # CSP enforced
    context.set_default_timeout(15_000)
    context.add_init_script(WATCH)
    page = context.new_page()
    messages = []
    page.on("console", lambda m: messages.append(m.text))
    try:
        sign_in(page, proctorme_url, reviewers.reviewer)
        for path in ("/dashboard/", f"/dashboard/sessions/{session.public_id}/", "/dashboard/live/"):
            response = page.goto(proctorme_url + path)
            assert response.ok, path
            assert "default-src 'self'" in response.headers["content-security-policy"]
            page.wait_for_load_state("networkidle")
            assert page.evaluate("document.documentElement.classList.contains('js')"), (
                path
            )  # the nonced line ran
            assert page.evaluate("typeof window.htmx") == "object", path  # our own script files ran
            assert page.evaluate("window.__csp") == [], path
        assert not [m for m in messages if "Content Security Policy" in m]
    finally:
        context.close()
