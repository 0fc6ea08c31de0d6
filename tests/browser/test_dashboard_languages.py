"""The dashboard in the reviewer's language: Accept-Language picks it, the menu changes it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .dashboard_support import reviewers, sign_in  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


def test_sessions_page_in_french_then_arabic(page, proctorme_url, reviewers, artifacts):  # noqa: F811
    from tests.dashboard.dashboard_factories import make_flag, make_session

    for i, score in enumerate((96.0, 71.0, 38.0)):
        session = make_session(
            reviewers.institution,
            first=f"Cand{i}",
            last="Idate",
            score=score,
            started_ago=timedelta(hours=i + 1),
        )
        if score < 85:
            make_flag(session, type="FACE_ABSENCE")
    page.set_extra_http_headers({"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    sign_in(page, proctorme_url, reviewers.admin)
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", name="Sessions", level=1).is_visible()
    assert page.get_by_role("link", name="Exporter en CSV").is_visible()
    assert page.get_by_role("columnheader", name="Score de confiance").is_visible()
    page.screenshot(path=str(artifacts / "dashboard-sessions-fr.png"))

    page.get_by_label("Langue").select_option("ar")
    page.wait_for_function("document.documentElement.lang === 'ar'")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.get_by_role("button", name="تسجيل الخروج").is_visible()
    page.screenshot(path=str(artifacts / "dashboard-sessions-ar.png"))
