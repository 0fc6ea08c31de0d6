"""A reviewer's day in Chromium: log in, find the high-risk session, replay it, decide; and the
live page getting a flag pushed over the institution's WebSocket."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .dashboard_support import flagged_session, reviewers, sign_in  # noqa: F401 (fixture)
from .helpers import retry_locked

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


def test_reviewer_filters_replays_and_records_a_verdict(page, proctorme_url, reviewers):  # noqa: F811
    from sessions.models import AuditLogEntry, ProctoringSession
    from tests.dashboard.dashboard_factories import make_session

    high = flagged_session(reviewers.institution, first="Hugo", last="High", score=31.5)
    make_session(
        reviewers.institution, first="Clara", last="Clean", score=98.0, started_ago=timedelta(hours=3)
    )
    make_session(
        reviewers.institution, first="Rita", last="Review", score=71.0, started_ago=timedelta(hours=5)
    )

    sign_in(page, proctorme_url, reviewers.reviewer)
    page.wait_for_selector("#sessions-table")
    assert page.locator("#sessions-table tbody tr").count() == 3

    # Filter with the form (htmx swaps the results in place and keeps the URL shareable).
    page.select_option("#id_band", "high")
    page.wait_for_function("document.querySelectorAll('#sessions-table tbody tr').length === 1")
    assert page.locator("#sessions-table tbody tr").first.get_attribute("data-band") == "high"
    assert "band=high" in page.url
    export = page.request.get(page.locator("#csv-export").get_attribute("href").join([proctorme_url, ""]))
    assert export.ok and export.headers["content-type"].startswith("text/csv")
    lines = export.text().strip().splitlines()
    assert len(lines) == 2 and "Hugo High" in lines[1]

    page.click("text=Hugo High")
    # The replay script binds its handlers at DOMContentLoaded, after the element exists.
    page.wait_for_selector("#player[data-ready=true]")
    assert page.locator("#player-frame").get_attribute("data-frame-id") == str(high.frames[0].public_id)

    # A flag marker on the timeline shows the frame of that moment.
    page.click(f'.tl-marker[data-flag="{high.absence.public_id}"]')
    frame = page.locator("#player-frame")
    page.wait_for_function(
        "id => document.getElementById('player-frame').dataset.frameId === id",
        arg=str(high.frames[4].public_id),
    )
    page.wait_for_function(
        "() => { const i = document.getElementById('player-frame'); return i.complete && i.naturalWidth === 320; }"
    )
    assert "00:40" in page.locator("#player-caption").inner_text()
    assert page.locator(f"#flag-{high.absence.public_id}").get_attribute("class").count("is-current") == 1

    # The keyboard does the same: focus the sound marker and press Enter.
    page.focus(f'.tl-marker[data-flag="{high.sound.public_id}"]')
    page.keyboard.press("Enter")
    page.wait_for_function(
        "id => document.getElementById('player-frame').dataset.frameId === id",
        arg=str(high.frames[7].public_id),
    )
    assert frame.get_attribute("data-frame-id") == str(high.frames[7].public_id)

    # Step and play through the frames.
    page.click('[data-player="next"]')
    assert frame.get_attribute("data-frame-id") == str(high.frames[8].public_id)
    page.click('[data-player="play"]')
    page.wait_for_function(
        "id => document.getElementById('player-frame').dataset.frameId !== id",
        arg=str(high.frames[8].public_id),
    )
    page.click('[data-player="play"]')

    # The voice clip plays in place.
    audio = page.locator(f'audio[data-audio-flag="{high.sound.public_id}"]')
    audio.scroll_into_view_if_needed()
    audio.click(position={"x": 18, "y": 16})
    audio.evaluate("a => a.paused ? a.play() : null")
    page.wait_for_function(
        "id => { const a = document.querySelector(`audio[data-audio-flag='${id}']`); return a.readyState >= 2 && (a.currentTime > 0 || a.ended); }",
        arg=str(high.sound.public_id),
    )
    assert audio.evaluate("a => a.error") is None
    assert audio.evaluate("a => a.duration") == pytest.approx(1.5, abs=0.05)

    # Dismiss the absence as a false positive: a reviewed score appears beside the automatic one.
    item = page.locator(f"#flag-{high.absence.public_id}")
    item.locator("summary").click()
    item.locator("input[name=reason]").fill("The candidate bent down to pick up a pen")
    item.locator("button[type=submit]").click()
    page.wait_for_selector(f"#flag-{high.absence.public_id}.is-dismissed")
    assert page.locator("#score-reviewed").inner_text() != "—"
    assert page.locator("#score-automatic").inner_text() == "31.5"

    # Record the verdict.
    page.click("#verdict-form label:has-text('Violation')")
    page.fill("#verdict-form textarea[name=notes]", "A second voice dictates answers at 01:10.")
    page.click("#verdict-form button[type=submit]")
    page.wait_for_selector("#messages li:has-text('Verdict saved: Violation.')")
    assert page.locator("#verdict-badge").inner_text() == "Violation"
    assert page.locator("#audit-log li").count() == 2

    session = ProctoringSession.objects.get(pk=high.session.pk)
    assert (session.verdict, session.verdict_notes) == (
        "violation",
        "A second voice dictates answers at 01:10.",
    )
    assert session.reviewed_score is not None and session.trust_score == 31.5
    assert AuditLogEntry.objects.filter(session=session, actor=reviewers.reviewer).count() == 2


def test_live_page_receives_a_new_flag_without_reloading(page, proctorme_url, reviewers):  # noqa: F811
    from sessions.services import flag_record
    from tests.dashboard.dashboard_factories import make_media, make_session

    running = make_session(
        reviewers.institution,
        first="Lena",
        last="Live",
        status="active",
        score=None,
        started_ago=timedelta(minutes=3),
    )
    make_media(running, kind="frame", seq=1, at_seconds=170)

    sign_in(page, proctorme_url, reviewers.reviewer)
    page.goto(f"{proctorme_url}/dashboard/live/")
    page.wait_for_selector("#ws-state[data-state=open]")
    assert page.locator(f"#live-{running.public_id} img").count() == 1
    page.evaluate("window.__sameDocument = true")

    retry_locked(
        lambda: flag_record(
            session=running,
            type="MULTIPLE_FACE",
            episode_key="MULTIPLE_FACE@live",
            started_at=running.started_at + timedelta(seconds=175),
        )
    )
    page.wait_for_selector(f"#flags-{running.public_id} li:has-text('MULTIPLE_FACE')", timeout=10_000)
    page.wait_for_selector("#live-feed li:has-text('Lena Live')")
    assert page.locator(f"#flagcount-{running.public_id}").inner_text() == "1"
    assert page.evaluate("window.__sameDocument") is True


def test_overview_and_login_pages_render(page, proctorme_url, reviewers):  # noqa: F811
    from tests.dashboard.dashboard_factories import make_flag, make_session

    for i, score in enumerate((99.0, 91.0, 77.0, 64.0, 40.0, 12.0)):
        session = make_session(
            reviewers.institution,
            first=f"Cand{i}",
            last="Idate",
            score=score,
            started_ago=timedelta(days=i, hours=1),
        )
        if score < 85:
            make_flag(session, type=("FACE_ABSENCE", "TAB_NOT_FOCUS", "MULTIPLE_FACE")[i % 3])

    page.goto(f"{proctorme_url}/accounts/login/")
    sign_in(page, proctorme_url, reviewers.admin)
    page.goto(f"{proctorme_url}/dashboard/overview/")
    page.wait_for_function("() => window.Chart && Object.keys(Chart.instances).length === 3")
    assert page.locator("#stat-sessions").inner_text() == "6"

    # A reviewer is refused the page, and does not see its link.
    page.context.clear_cookies()
    sign_in(page, proctorme_url, reviewers.reviewer)
    assert page.locator("nav.mainnav a:has-text('Overview')").count() == 0
    response = page.goto(f"{proctorme_url}/dashboard/overview/")
    assert response.status == 403


def test_phone_layout(browser, proctorme_url, reviewers):  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        high = flagged_session(reviewers.institution, first="Hugo", last="High", score=31.5)
        sign_in(page, proctorme_url, reviewers.reviewer)
        page.goto(f"{proctorme_url}/dashboard/sessions/{high.session.public_id}/")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the session page scrolls sideways on a phone"
    finally:
        context.close()
