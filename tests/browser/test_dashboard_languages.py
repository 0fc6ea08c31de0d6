"""The dashboard in the reviewer's language: Accept-Language picks it, the menu changes it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .dashboard_support import reviewers, sign_in  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


def test_sessions_page_in_french_then_arabic(page, proctorme_url, reviewers):  # noqa: F811
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

    page.get_by_label("Langue").select_option("ar")
    page.wait_for_function("document.documentElement.lang === 'ar'")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert page.get_by_role("button", name="تسجيل الخروج").is_visible()


def test_replay_in_french_and_live_page_in_arabic(page, proctorme_url, reviewers):  # noqa: F811
    """The scripts' strings too: the player's caption and button, the socket's state and each
    card's connection come from the page's translated catalogue."""
    from tests.dashboard.dashboard_factories import make_flag, make_media, make_session

    from .dashboard_support import flagged_session

    replay = flagged_session(reviewers.institution, first="Hugo", last="Haut", score=31.5).session
    running = make_session(
        reviewers.institution,
        first="Lena",
        last="Live",
        status="active",
        score=None,
        started_ago=timedelta(minutes=3),
    )
    make_media(running, kind="frame", seq=1, at_seconds=170)
    make_flag(running, type="MULTIPLE_FACE", at_seconds=150)

    page.set_extra_http_headers({"Accept-Language": "fr-FR,fr;q=0.9"})
    sign_in(page, proctorme_url, reviewers.admin)
    page.goto(f"{proctorme_url}/dashboard/sessions/{replay.public_id}/")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", name="Chronologie").is_visible()
    assert page.get_by_role("heading", name="Journal d’audit").is_visible()
    page.locator("#filmstrip button").nth(1).click()  # the random photo at 00:05
    page.wait_for_function(
        "document.getElementById('player-caption').textContent.startsWith('00:05 · photo')"
    )
    assert page.locator("#player-frame").get_attribute("alt") == "Photo à 00:05"
    page.locator("#filmstrip button").nth(2).click()  # the frame at 00:10
    page.wait_for_function(
        "document.getElementById('player-caption').textContent.startsWith('00:10 · image')"
    )
    assert page.locator("#player-frame").get_attribute("alt") == "Image à 00:10"
    page.locator("[data-player=play]").click()
    page.wait_for_function(
        "document.querySelector('[data-player=play]').getAttribute('aria-label') === 'Pause'"
    )
    page.locator("[data-player=play]").click()
    page.wait_for_function(
        "document.querySelector('[data-player=play]').getAttribute('aria-label') === 'Lecture'"
    )

    page.set_extra_http_headers({"Accept-Language": "ar"})
    page.goto(f"{proctorme_url}/dashboard/live/?session={running.public_id}")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    page.wait_for_selector("#ws-state[data-state=open]")
    assert page.locator("#ws-state").inner_text() == "مباشر"
    assert page.get_by_role("heading", name="المراقبة المباشرة").is_visible()
    seen = page.locator(f"#seen-{running.public_id}")
    page.wait_for_function(
        f"['متصل', 'متعثّر', 'غير متصل'].includes(document.getElementById('seen-{running.public_id}').textContent)"
    )
    assert (
        seen.get_attribute("title").startswith("آخر إشارة") or seen.get_attribute("title") == "لم يصل شيء بعد"
    )
    assert page.get_by_role("button", name="أرسل الرسالة").is_visible()
