"""Invitations (a signed, expiring, single-use link to set a first password) and password reset."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tenants.invitations import invitation_token_generator
from tenants.models import Membership

LINK = re.compile(r"https?://\S+/accounts/(?:invitation|password/reset)/[\w-]+/[\w:-]+/")


def _link(message) -> str:
    found = LINK.findall(message.body)
    assert len(found) == 1, message.body
    return found[0]


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _set_password(client, url: str, password: str):
    """Follow the e-mailed link (it redirects to a token-free URL) and post the new password."""
    first = client.get(_path(url))
    assert first.status_code == 302, "a valid link redirects to the form without the token"
    form_url = first["Location"]
    assert client.get(form_url).status_code == 200
    return client.post(form_url, {"new_password1": password, "new_password2": password})


def _invite_admin(email="boss@gamma.edu") -> None:
    call_command("create_institution", "Gamma School", "--admin-email", email, stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_invited_admin_sets_a_password_with_the_emailed_link_and_signs_in(client, mailoutbox, settings):
    settings.SITE_URL = "https://proctor.gamma.edu"
    _invite_admin()
    (message,) = mailoutbox
    assert message.to == ["boss@gamma.edu"]
    assert "Gamma School" in message.subject
    url = _link(message)
    assert url.startswith("https://proctor.gamma.edu/accounts/invitation/")
    response = _set_password(client, url, "a-long-new-passphrase")
    assert response.status_code == 302 and response["Location"] == reverse("invitation-complete")
    user = get_user_model().objects.get(email="boss@gamma.edu")
    assert user.check_password("a-long-new-passphrase")
    assert client.login(username="boss@gamma.edu", password="a-long-new-passphrase")
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_invitation_link_works_only_once(client, mailoutbox):
    _invite_admin()
    url = _link(mailoutbox[0])
    _set_password(client, url, "a-long-new-passphrase")
    again = client.get(_path(url))
    assert again.status_code == 200
    assert "Invitation not valid" in again.content.decode()
    assert get_user_model().objects.get(email="boss@gamma.edu").check_password("a-long-new-passphrase")


@pytest.mark.django_db(transaction=True)
def test_an_invitation_link_expires(client, mailoutbox, settings):
    settings.PROCTORME_INVITATION_TTL = 3600
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _invite_admin()
        url = _link(mailoutbox[0])
        traveller.shift(timedelta(seconds=3601))
        response = client.get(_path(url))
    assert response.status_code == 200
    assert "Invitation not valid" in response.content.decode()
    assert not get_user_model().objects.get(email="boss@gamma.edu").has_usable_password()


@pytest.mark.django_db(transaction=True)
def test_a_tampered_or_borrowed_token_is_refused(client, mailoutbox):
    _invite_admin()
    call_command("create_institution", "Other", "--admin-email", "other@x.edu", stdout=StringIO())
    boss_url, other_url = _link(mailoutbox[0]), _link(mailoutbox[1])
    # Boss's user id with the other person's token.
    uid = boss_url.rstrip("/").split("/")[-2]
    token = other_url.rstrip("/").split("/")[-1]
    assert "not valid" in client.get(f"/accounts/invitation/{uid}/{token}/").content.decode()
    tampered = boss_url[:-3] + ("A" if boss_url[-3] != "A" else "B") + boss_url[-2:]
    assert "not valid" in client.get(_path(tampered)).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_password_reset_token_is_not_an_invitation(client, mailoutbox):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    _invite_admin()
    user = get_user_model().objects.get(email="boss@gamma.edu")
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    reset_token = default_token_generator.make_token(user)
    assert "not valid" in client.get(f"/accounts/invitation/{uid}/{reset_token}/").content.decode()
    assert not invitation_token_generator.check_token(user, reset_token)


@pytest.mark.django_db(transaction=True)
def test_admin_adding_a_reviewer_emails_an_invitation_naming_the_admin(client, tenant_a, mailoutbox):
    client.force_login(tenant_a.admin)
    response = client.post(
        reverse("admin:tenants_membership_add"),
        {"institution": tenant_a.institution.pk, "email": "New.Reviewer@alpha.edu", "role": "reviewer"},
    )
    assert response.status_code == 302
    (message,) = mailoutbox
    assert message.to == ["new.reviewer@alpha.edu"]
    assert tenant_a.admin.email in message.body and "Reviewer" in message.body
    membership = Membership.objects.get(user__email="new.reviewer@alpha.edu")
    assert membership.institution == tenant_a.institution and membership.role == "reviewer"
    client.logout()
    _set_password(client, _link(message), "reviewer-passphrase-1")
    assert client.login(username="new.reviewer@alpha.edu", password="reviewer-passphrase-1")
    assert client.get("/dashboard/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_adding_someone_who_has_a_password_sends_no_invitation(tenant_a, tenant_b, mailoutbox):
    from tenants.services import membership_add

    membership_add(institution=tenant_b.institution, email=tenant_a.reviewer.email, role="reviewer")
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_resend_action_sends_a_fresh_link_only_to_members_without_a_password(client, tenant_a, mailoutbox):
    from tenants.services import membership_add

    invited = membership_add(institution=tenant_a.institution, email="late@alpha.edu", role="reviewer")
    mailoutbox.clear()
    client.force_login(tenant_a.admin)
    ids = [invited.pk, Membership.objects.get(user=tenant_a.reviewer).pk]
    client.post(
        reverse("admin:tenants_membership_changelist"),
        {"action": "resend_invitation", "_selected_action": ids},
    )
    assert [m.to for m in mailoutbox] == [["late@alpha.edu"]]


@pytest.mark.django_db(transaction=True)
def test_password_reset_emails_a_link_that_sets_a_new_password(client, tenant_a, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": tenant_a.reviewer.email})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    (message,) = mailoutbox
    assert message.to == [tenant_a.reviewer.email]
    _set_password(client, _link(message), "brand-new-passphrase")
    tenant_a.reviewer.refresh_from_db()
    assert tenant_a.reviewer.check_password("brand-new-passphrase")
    assert "not valid" in client.get(_path(_link(message))).content.decode()


@pytest.mark.django_db(transaction=True)
def test_password_reset_reaches_a_member_who_lost_the_invitation(client, mailoutbox):
    _invite_admin()
    mailoutbox.clear()
    client.post(reverse("password_reset"), {"email": "BOSS@gamma.edu"})
    (message,) = mailoutbox
    _set_password(client, _link(message), "found-my-way-in")
    assert get_user_model().objects.get(email="boss@gamma.edu").check_password("found-my-way-in")


@pytest.mark.django_db(transaction=True)
def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "nobody@nowhere.test"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert mailoutbox == []


def test_the_one_sign_in_page_links_to_password_reset(client, transactional_db):
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()
    assert client.get("/admin/login/")["Location"].startswith(reverse("login"))
    assert client.get(reverse("admin_password_reset")).status_code == 200
