"""Tenancy: every dashboard and media URL answers 404 to another institution's reviewer, the
same as for a missing id; admin-only pages answer 403 to reviewers; anonymous users log in."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from tenants.models import Membership
from tests.dashboard.dashboard_factories import make_flag, make_media, session_with_evidence


@pytest.fixture
def a_session(tenant_a):
    session, absence, sound, frames = session_with_evidence(tenant_a.institution)
    return session, absence, frames[0]


def _session_urls(session, flag, chunk):
    return {
        "get": [
            reverse("dashboard:session", args=[session.public_id]),
            reverse("dashboard:session-progress", args=[session.public_id]),
            reverse("dashboard:media", args=[chunk.public_id]),
            reverse("dashboard:media", args=[flag.evidence.public_id]),
        ],
        "post": [
            reverse("dashboard:verdict", args=[session.public_id]),
            reverse("dashboard:flag-dismiss", args=[session.public_id, flag.public_id]),
            reverse("dashboard:flag-restore", args=[session.public_id, flag.public_id]),
        ],
    }


def test_outsider_gets_404_for_every_session_flag_and_media_url(login, tenant_a, tenant_b, a_session):
    session, flag, chunk = a_session
    client = login(tenant_b.reviewer)
    urls = _session_urls(session, flag, chunk)
    for url in urls["get"]:
        assert client.get(url).status_code == 404, url
    for url in urls["post"]:
        assert client.post(url, {"verdict": "violation", "reason": "x"}).status_code == 404, url
    session.refresh_from_db()
    flag.refresh_from_db()
    assert session.verdict == "" and flag.dismissed_at is None


def test_outsider_admin_gets_404_too(login, tenant_a, tenant_b, a_session):
    session, flag, chunk = a_session
    client = login(tenant_b.admin)
    for url in _session_urls(session, flag, chunk)["get"]:
        assert client.get(url).status_code == 404, url


def test_missing_ids_answer_the_same_404(login, tenant_a, a_session):
    session, flag, chunk = a_session
    client = login(tenant_a.reviewer)
    missing = uuid.uuid4()
    assert client.get(reverse("dashboard:session", args=[missing])).status_code == 404
    assert client.get(reverse("dashboard:media", args=[missing])).status_code == 404
    url = reverse("dashboard:flag-dismiss", args=[session.public_id, missing])
    assert client.post(url, {"reason": "x"}).status_code == 404


def test_a_flag_of_another_session_of_the_same_institution_is_404(login, tenant_a, a_session):
    session, flag, chunk = a_session
    other, other_flag, *_ = session_with_evidence(tenant_a.institution, first="Alan", last="Turing")
    client = login(tenant_a.reviewer)
    url = reverse("dashboard:flag-dismiss", args=[session.public_id, other_flag.public_id])
    assert client.post(url, {"reason": "x"}).status_code == 404


def test_owner_reviewer_sees_session_and_media(login, tenant_a, a_session):
    session, flag, chunk = a_session
    client = login(tenant_a.reviewer)
    for url in (
        _session_urls(session, flag, chunk)["get"][:1] + _session_urls(session, flag, chunk)["get"][2:]
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    media = client.get(reverse("dashboard:media", args=[chunk.public_id]))
    assert media["Content-Type"] == "image/jpeg"
    assert media["Cache-Control"].startswith("private")


def test_lists_show_only_the_current_institutions_sessions(login, tenant_a, tenant_b, a_session):
    session, *_ = a_session
    theirs, *_ = session_with_evidence(tenant_b.institution, first="Zed", last="Outsider")
    client = login(tenant_b.reviewer)
    page = client.get(reverse("dashboard:sessions")).content.decode()
    assert "Zed Outsider" in page and "Ada Lovelace" not in page
    csv = b"".join(client.get(reverse("dashboard:sessions-csv")).streaming_content).decode()
    assert str(theirs.public_id) in csv and str(session.public_id) not in csv
    live = client.get(reverse("dashboard:live")).content.decode()
    assert "Ada Lovelace" not in live


def test_search_by_another_institutions_session_id_finds_nothing(login, tenant_a, tenant_b, a_session):
    session, *_ = a_session
    client = login(tenant_b.reviewer)
    page = client.get(reverse("dashboard:sessions"), {"q": str(session.public_id)}).content.decode()
    assert "No session matches" in page


def test_reviewer_cannot_open_the_overview(login, tenant_a):
    assert login(tenant_a.reviewer).get(reverse("dashboard:overview")).status_code == 403


def test_admin_opens_the_overview(login, tenant_a, a_session):
    response = login(tenant_a.admin).get(reverse("dashboard:overview"))
    assert response.status_code == 200
    assert b"/admin/tenants/apikey/" in response.content


def test_reviewer_does_not_see_the_overview_link(login, tenant_a):
    page = login(tenant_a.reviewer).get(reverse("dashboard:sessions")).content.decode()
    assert reverse("dashboard:overview") not in page


@pytest.mark.parametrize(
    "name,args",
    [
        ("dashboard:sessions", []),
        ("dashboard:sessions-csv", []),
        ("dashboard:live", []),
        ("dashboard:overview", []),
        ("dashboard:session", [uuid.uuid4()]),
        ("dashboard:media", [uuid.uuid4()]),
    ],
)
def test_anonymous_users_are_sent_to_the_login_page(client, db, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_user_without_membership_gets_403(login, django_user_model, db):
    user = django_user_model.objects.create_user("lost@example.test", "lost@example.test", "pw-lost-123")
    assert login(user).get(reverse("dashboard:sessions")).status_code == 403


def test_user_in_two_institutions_switches_between_them(login, tenant_a, tenant_b, a_session):
    from tenants.services import membership_add

    session, *_ = a_session
    theirs, *_ = session_with_evidence(tenant_b.institution, first="Zed", last="Outsider")
    membership_add(
        institution=tenant_b.institution, email=tenant_a.reviewer.email, role=Membership.Role.REVIEWER
    )
    client = login(tenant_a.reviewer)
    page = client.get(reverse("dashboard:sessions")).content.decode()
    assert "Ada Lovelace" in page and "Zed Outsider" not in page
    assert client.get(reverse("dashboard:session", args=[theirs.public_id])).status_code == 404

    response = client.post(
        reverse("dashboard:switch"),
        {"institution": str(tenant_b.institution.public_id), "next": "/dashboard/live/"},
    )
    assert response.status_code == 302 and response["Location"] == "/dashboard/live/"
    page = client.get(reverse("dashboard:sessions")).content.decode()
    assert "Zed Outsider" in page and "Ada Lovelace" not in page
    assert client.get(reverse("dashboard:session", args=[theirs.public_id])).status_code == 200
    assert client.get(reverse("dashboard:session", args=[session.public_id])).status_code == 404


def test_switching_to_an_institution_you_do_not_belong_to_does_nothing(login, tenant_a, tenant_b, a_session):
    client = login(tenant_a.reviewer)
    client.post(reverse("dashboard:switch"), {"institution": str(tenant_b.institution.public_id)})
    assert "Ada Lovelace" in client.get(reverse("dashboard:sessions")).content.decode()


def test_a_membership_removed_after_switching_no_longer_counts(login, tenant_a, tenant_b, a_session):
    from tenants.services import membership_add

    membership = membership_add(
        institution=tenant_b.institution, email=tenant_a.reviewer.email, role="reviewer"
    )
    client = login(tenant_a.reviewer)
    client.post(reverse("dashboard:switch"), {"institution": str(tenant_b.institution.public_id)})
    membership.delete()
    assert "Ada Lovelace" in client.get(reverse("dashboard:sessions")).content.decode()


def test_switch_does_not_redirect_off_site(login, tenant_a):
    client = login(tenant_a.reviewer)
    response = client.post(
        reverse("dashboard:switch"),
        {"institution": str(tenant_a.institution.public_id), "next": "https://evil.test/"},
    )
    assert response["Location"] == reverse("dashboard:sessions")


def test_root_redirects_signed_in_users_to_the_dashboard(login, client, tenant_a):
    assert client.get("/")["Location"].startswith("/demo/")
    assert login(tenant_a.reviewer).get("/")["Location"] == reverse("dashboard:sessions")


def test_dismissed_flag_media_of_own_session_is_served(login, tenant_a, a_session):
    session, flag, chunk = a_session
    extra = make_media(session, kind="snapshot", seq=9, at_seconds=90)
    make_flag(session, type="PERIODIC_SNAPSHOT", at_seconds=90, seconds=0, evidence=extra)
    assert login(tenant_a.reviewer).get(reverse("dashboard:media", args=[extra.public_id])).status_code == 200
