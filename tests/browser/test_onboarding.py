"""Onboarding in Chromium: an admin invited by e-mail sets a password, signs in, invites a
reviewer in the admin, and the reviewer does the same. E-mail goes to Django's locmem outbox
(the console backend's stand-in in tests); the server is the real ASGI app in this process."""

from __future__ import annotations

import re
from io import StringIO

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]

INVITATION = re.compile(r"http://127\.0\.0\.1:\d+/accounts/invitation/[\w-]+/[\w:-]+/")


def _invitation_link(outbox, to: str) -> str:
    (message,) = [m for m in outbox if m.to == [to]]
    return INVITATION.search(message.body).group(0)


def _accept(page, link: str, password: str) -> None:
    page.goto(link)
    page.wait_for_selector("h1:text('Set your password')")
    assert "/set-password/" in page.url, "the token leaves the address bar before the form shows"
    page.fill("#id_new_password1", password)
    page.fill("#id_new_password2", password)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:text('Password set')")
    page.get_by_role("link", name="Sign in").click()


def _sign_in(page, email: str, password: str) -> None:
    page.wait_for_selector("#id_username")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_invited_admin_and_then_reviewer_get_in(
    context, proctorme_url, transactional_db, settings, mailoutbox
):
    from django.core.management import call_command

    from tenants.models import Membership

    settings.SITE_URL = proctorme_url
    settings.ROOT_URLCONF = "tests.browser.dashboard_support"  # serves /static/ for the pages
    call_command(
        "create_institution", "Onboard University", "--admin-email", "dean@onboard.edu", stdout=StringIO()
    )
    page = context.new_page()
    _accept(page, _invitation_link(mailoutbox, "dean@onboard.edu"), "dean-chooses-this-1")
    _sign_in(page, "dean@onboard.edu", "dean-chooses-this-1")
    page.wait_for_url(f"{proctorme_url}/dashboard/")

    # The admin invites a reviewer in the admin site.
    page.goto(f"{proctorme_url}/admin/tenants/membership/add/")
    page.fill("#id_email", "marker@onboard.edu")
    page.select_option("#id_role", "reviewer")
    page.click("input[name=_save]")
    page.wait_for_selector("text=Invitation e-mailed to marker@onboard.edu")
    assert "invited (no password yet)" in page.locator("#result_list").inner_text()
    membership = Membership.objects.get(user__email="marker@onboard.edu")
    assert membership.role == "reviewer" and membership.institution.name == "Onboard University"
    message = next(m for m in mailoutbox if m.to == ["marker@onboard.edu"])
    assert "dean@onboard.edu invited you to join Onboard University" in message.body

    # The reviewer, in a browser of their own.
    reviewer_page = context.browser.new_context().new_page()
    try:
        _accept(reviewer_page, _invitation_link(mailoutbox, "marker@onboard.edu"), "marker-picks-this-2")
        _sign_in(reviewer_page, "marker@onboard.edu", "marker-picks-this-2")
        reviewer_page.wait_for_url(f"{proctorme_url}/dashboard/")
        assert reviewer_page.locator(".role-tag").text_content() == "Reviewer"
        assert reviewer_page.locator(".inst-name").text_content() == "Onboard University"
        # Used links are dead.
        reviewer_page.goto(_invitation_link(mailoutbox, "marker@onboard.edu"))
        reviewer_page.wait_for_selector("h1:text('Invitation not valid')")
    finally:
        reviewer_page.context.close()
    page.reload()
    assert "active" in page.locator("#result_list").inner_text()
