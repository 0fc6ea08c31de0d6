"""axe-core on every dashboard page and the sign-in pages: no serious or critical violation.
Results are printed per page (run with -s, or read them in a failure's captured output)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .axe import assert_accessible
from .dashboard_support import PASSWORD, flagged_session, reviewers, sign_in  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


def _th_sort(page, label: str) -> str | None:
    return page.locator(f"#sessions-table thead th:has(a:text-is('{label}'))").get_attribute("aria-sort")


def test_dashboard_pages_have_no_serious_accessibility_violations(page, proctorme_url, reviewers):  # noqa: F811
    from tests.dashboard.dashboard_factories import make_session

    flagged = flagged_session(reviewers.institution, first="Hugo", last="High", score=31.5)
    make_session(
        reviewers.institution, first="Clara", last="Clean", score=98.0, started_ago=timedelta(hours=3)
    )

    sign_in(page, proctorme_url, reviewers.admin)
    page.wait_for_selector("#sessions-table")
    assert_accessible(page, "sessions list")
    # Sortable headers announce their sort.
    assert _th_sort(page, "Started") == "descending"
    assert _th_sort(page, "Trust score") is None
    page.click("#sessions-table thead a:text-is('Trust score')")
    page.wait_for_url("**sort=trust_score**")
    page.wait_for_selector("#sessions-table")
    assert _th_sort(page, "Trust score") == "ascending"
    assert _th_sort(page, "Started") is None
    page.click("#sessions-table thead a:text-is('Trust score')")
    page.wait_for_url("**sort=-trust_score**")
    assert _th_sort(page, "Trust score") == "descending"
    assert_accessible(page, "sessions list, sorted by trust score")

    page.goto(f"{proctorme_url}/dashboard/sessions/{flagged.session.public_id}/")
    page.wait_for_selector("#player-frame")
    assert_accessible(page, "session replay")

    for name, path, ready in [
        ("live sessions", "/dashboard/live/", "main h1"),
        ("overview", "/dashboard/overview/", "#stat-sessions"),
        ("two-factor login", "/accounts/two-factor/", ".qr svg"),
    ]:
        page.goto(proctorme_url + path)
        page.wait_for_selector(ready)
        assert_accessible(page, name)


def test_reviewer_refusal_and_no_institution_pages_are_accessible(
    context,
    page,
    proctorme_url,
    reviewers,  # noqa: F811
):
    from django.contrib.auth import get_user_model

    sign_in(page, proctorme_url, reviewers.reviewer)
    response = page.goto(f"{proctorme_url}/dashboard/overview/")
    assert response.status == 403
    assert_accessible(page, "admin-only page refused to a reviewer")

    get_user_model().objects.create_user("loner@replay.test", "loner@replay.test", PASSWORD)
    other = context.new_page()
    other.context.clear_cookies()
    other.goto(f"{proctorme_url}/accounts/login/")
    other.fill("#id_username", "loner@replay.test")
    other.fill("#id_password", PASSWORD)
    other.click("button[type=submit]")
    other.wait_for_load_state()
    assert "/dashboard/" in other.url
    assert_accessible(other, "signed in without an institution")


def test_sign_in_and_password_pages_are_accessible(page, proctorme_url, reviewers):  # noqa: F811
    page.goto(f"{proctorme_url}/accounts/login/")
    assert_accessible(page, "sign in")
    page.fill("#id_username", reviewers.reviewer.email)
    page.fill("#id_password", "not the password")
    page.click("button[type=submit]")
    page.wait_for_selector("[role=alert]")
    assert_accessible(page, "sign in, wrong password")
    page.goto(f"{proctorme_url}/accounts/password/reset/")
    assert_accessible(page, "password reset")
    page.fill("#id_email", reviewers.reviewer.email)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:text('Check your e-mail')")
    assert_accessible(page, "password reset sent")
    page.goto(f"{proctorme_url}/accounts/invitation/MQ/not-a-token/")
    page.wait_for_selector("h1:text('Invitation not valid')")
    assert_accessible(page, "invitation not valid")
