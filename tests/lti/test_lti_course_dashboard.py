"""The course boundary of LMS instructors: a launch as instructor of course C gives a dashboard of
the sessions of attempts launched from C, and nothing else of the institution.

Every read has a row of another course of the same institution that *would* show without the
course filter (an institution reviewer sees it, shown first), and another institution's row
(404 like a missing one)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from sessions.lti.models import LtiCourseAccess
from sessions.lti.registrations import lti_registration_create
from sessions.services import flag_record
from tenants.models import Membership
from tests.dashboard.dashboard_factories import make_flag, make_lti_attempt, make_media, make_session
from tests.lti.conftest import launch, refused
from tests.lti.platform import INSTRUCTOR, LEARNER, LTI

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
TA = LIS + "membership/Instructor#TeachingAssistant"
INSTITUTION_ADMIN = LIS + "institution/person#Administrator"
INSTITUTION_INSTRUCTOR = LIS + "institution/person#Instructor"


@pytest.fixture
def rows(registration, tenant_a, tenant_b, platform):
    """A: a running and a finished session of course-7, the same of course-8. B: a session of its
    own registration of the same LMS whose course is also called course-7."""
    a = tenant_a.institution
    mine_done = make_session(a, first="Cora", last="Course", assessment="alg", title="Algebra quiz")
    make_flag(mine_done, type="MULTIPLE_FACE")
    mine_running = make_session(
        a,
        first="Carl",
        last="Course",
        assessment="alg",
        status="active",
        score=None,
        started_ago=timedelta(minutes=3),
    )
    other_done = make_session(
        a, first="Olga", last="Other", assessment="geo", title="Geometry quiz", score=40.0
    )
    make_flag(other_done, type="FACE_MISMATCH")
    other_frame = make_media(other_done, kind="frame", seq=1, at_seconds=5)
    other_running = make_session(
        a,
        first="Otto",
        last="Other",
        assessment="geo",
        status="active",
        score=None,
        started_ago=timedelta(minutes=2),
    )
    plain = make_session(a, first="Wanda", last="Widget", assessment="web")  # an exam page's session
    for session in (mine_done, mine_running):
        make_lti_attempt(session, registration, context_id="course-7")
    for session in (other_done, other_running):
        make_lti_attempt(session, registration, context_id="course-8")
    b_registration = lti_registration_create(
        institution=tenant_b.institution, name="Their LMS", **platform.urls()
    )
    foreign = make_session(tenant_b.institution, first="Bob", last="Beta", assessment="alg")
    make_lti_attempt(foreign, b_registration, context_id="course-7")
    return {
        "mine": {mine_done.public_id, mine_running.public_id},
        "mine_done": mine_done,
        "mine_running": mine_running,
        "other_done": other_done,
        "other_frame": other_frame,
        "other_running": other_running,
        "plain": plain,
        "foreign": foreign,
    }


def _instructor(client, platform, tenant_a, *, roles=(INSTRUCTOR,), context="course-7", sub="teacher-9"):
    claims = platform.base_claims(nonce="", message_type="LtiResourceLinkRequest", sub=sub, roles=list(roles))
    claims[LTI + "context"] = {"id": context, "title": "Algebra"}
    return launch(client, platform, tenant_a.institution, claims)


def _listed(page) -> set:
    return {s.public_id for s in page.context["page"].object_list}


def test_an_instructor_launch_signs_in_to_their_course_only(client, platform, registration, tenant_a, rows):
    everything = Client()
    everything.force_login(tenant_a.reviewer)
    assert _listed(everything.get(reverse("dashboard:sessions"))) == {
        *rows["mine"],
        rows["other_done"].public_id,
        rows["other_running"].public_id,
        rows["plain"].public_id,
    }

    response = _instructor(client, platform, tenant_a)
    assert response.status_code == 302
    page = client.get(reverse("dashboard:sessions"))
    assert page.status_code == 200
    assert _listed(page) == rows["mine"]
    html = page.content.decode()
    assert "Olga" not in html and "Wanda" not in html and "Bob" not in html
    assert "Geometry quiz" not in html  # nor in the assessment filter
    user = page.wsgi_request.user
    assert not user.has_usable_password() and not user.memberships.exists()
    access = LtiCourseAccess.objects.get(user=user)
    assert (access.context_id, access.context_title, access.institution) == (
        "course-7",
        "Algebra",
        tenant_a.institution,
    )
    assert page.context["dash"].is_course_instructor and not page.context["dash"].is_admin
    assert "Instructor" in html


def test_the_csv_and_every_filter_stay_in_the_course(client, platform, registration, tenant_a, rows):
    _instructor(client, platform, tenant_a)
    csv = client.get(reverse("dashboard:sessions-csv")).getvalue().decode()
    assert "Cora" in csv and "Olga" not in csv and "Wanda" not in csv
    geometry = rows["other_done"].assessment.public_id
    assert _listed(client.get(reverse("dashboard:sessions"), {"q": "Olga"})) == set()
    assert _listed(client.get(reverse("dashboard:sessions"), {"flag_type": "FACE_MISMATCH"})) == set()
    assert _listed(client.get(reverse("dashboard:sessions"), {"assessment": str(geometry)})) == rows["mine"]


def test_another_courses_session_replay_media_and_review_are_404(
    client, platform, registration, tenant_a, rows
):
    _instructor(client, platform, tenant_a)
    mine = rows["mine_done"]
    assert client.get(reverse("dashboard:session", args=[mine.public_id])).status_code == 200
    assert client.get(reverse("dashboard:session-report-pdf", args=[mine.public_id])).status_code == 200
    for session in (rows["other_done"], rows["plain"], rows["foreign"]):
        assert client.get(reverse("dashboard:session", args=[session.public_id])).status_code == 404
        pdf = client.get(reverse("dashboard:session-report-pdf", args=[session.public_id]))
        assert pdf.status_code == 404
        verdict = client.post(reverse("dashboard:verdict", args=[session.public_id]), {"verdict": "clear"})
        assert verdict.status_code == 404
        control = client.post(reverse("lti-session-control", args=[session.public_id]), {"action": "pause"})
        assert control.status_code == 404
    assert client.get(reverse("dashboard:media", args=[rows["other_frame"].public_id])).status_code == 404
    rows["other_done"].refresh_from_db()
    assert rows["other_done"].verdict == ""
    reviewer = Client()
    reviewer.force_login(tenant_a.reviewer)
    assert reviewer.get(reverse("dashboard:media", args=[rows["other_frame"].public_id])).status_code == 200


def test_the_live_page_and_the_overview_count_the_course_only(client, platform, registration, tenant_a, rows):
    _instructor(client, platform, tenant_a)
    live = client.get(reverse("dashboard:live"))
    assert [s.public_id for s in live.context["sessions"]] == [rows["mine_running"].public_id]
    assert "Otto" not in live.content.decode()
    overview = client.get(reverse("dashboard:overview"))
    assert overview.status_code == 200
    data = overview.context["overview"]
    assert data["totals"]["sessions"] == 2 and data["totals"]["active"] == 1
    assert data["chart"]["flags"] == {"labels": ["MULTIPLE_FACE"], "counts": [1]}
    assert data["pending_count"] == 0  # Olga's 40 is another course's
    assert "/admin/tenants/apikey/" not in overview.content.decode()  # no admin links

    admin = Client()
    admin.force_login(tenant_a.admin)
    assert admin.get(reverse("dashboard:overview")).context["overview"]["totals"]["sessions"] == 5
    reviewer = Client()
    reviewer.force_login(tenant_a.reviewer)
    assert reviewer.get(reverse("dashboard:overview")).status_code == 403


def test_a_course_instructor_may_not_open_or_change_the_institutions_accommodations(
    client, platform, registration, tenant_a, rows
):
    """The overview lets course instructors in for their courses; the accommodations page (every
    candidate of the institution) stays for admins."""
    from sessions.accommodations import accommodation_set
    from sessions.models import Accommodation

    set_for_olga = accommodation_set(candidate=rows["other_done"].candidate, extra_seconds=600)
    _instructor(client, platform, tenant_a)
    assert client.get(reverse("dashboard:overview")).status_code == 200
    page = client.get(reverse("dashboard:accommodations"))
    assert page.status_code == 403 and "Olga" not in page.content.decode()
    added = client.post(
        reverse("dashboard:accommodations"),
        {"candidate": str(rows["mine_done"].candidate.public_id), "extra_minutes": "30"},
    )
    assert added.status_code == 403
    gone = client.post(reverse("dashboard:accommodation-delete", args=[set_for_olga.public_id]))
    assert gone.status_code == 403
    assert list(Accommodation.objects.values_list("pk", flat=True)) == [set_for_olga.pk]
    admin = Client()
    admin.force_login(tenant_a.admin)
    assert "Olga" in admin.get(reverse("dashboard:accommodations")).content.decode()


def test_courses_add_up_launch_by_launch(client, platform, registration, tenant_a, rows):
    _instructor(client, platform, tenant_a, roles=[TA])
    _instructor(client, platform, tenant_a, context="course-8")
    page = client.get(reverse("dashboard:sessions"))
    assert _listed(page) == {*rows["mine"], rows["other_done"].public_id, rows["other_running"].public_id}
    assert LtiCourseAccess.objects.count() == 2


def test_a_learner_or_an_instructor_elsewhere_gets_no_dashboard(
    client, platform, registration, tenant_a, rows
):
    # Canvas sends institution/person#Instructor to whoever teaches anywhere, also as a learner here.
    response = _instructor(client, platform, tenant_a, roles=[LEARNER, INSTITUTION_INSTRUCTOR])
    assert response.status_code == 200 and b"Proctoring starts from your quiz" in response.content
    assert client.get(reverse("dashboard:sessions")).status_code == 302
    assert LtiCourseAccess.objects.count() == 0


def test_deep_linking_needs_a_course_role(client, platform, registration, tenant_a):
    claims = platform.base_claims(
        nonce="", message_type="LtiDeepLinkingRequest", roles=[LEARNER, INSTITUTION_INSTRUCTOR]
    )
    claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
        "deep_link_return_url": platform.base + "/deep_link_return"
    }
    refused(launch(client, platform, tenant_a.institution, claims), "LTI_NOT_INSTRUCTOR")


def test_an_lms_administrator_is_an_institution_reviewer_only_with_the_switch(
    client, platform, registration, tenant_a, rows
):
    _instructor(client, platform, tenant_a, roles=[INSTITUTION_ADMIN], sub="admin-1")
    assert _listed(client.get(reverse("dashboard:sessions"))) == rows["mine"]  # their launch's course
    client.logout()

    registration.staff_reviewers = True
    registration.save()
    _instructor(client, platform, tenant_a, roles=[INSTITUTION_ADMIN], sub="admin-1")
    page = client.get(reverse("dashboard:sessions"))
    assert len(_listed(page)) == 5 and rows["foreign"].public_id not in _listed(page)
    membership = page.wsgi_request.user.memberships.get()
    assert (membership.institution, membership.role) == (tenant_a.institution, Membership.Role.REVIEWER)
    assert client.get(reverse("dashboard:overview")).status_code == 403  # never our admin role


def test_without_a_course_staff_needs_a_membership(client, platform, registration, tenant_a):
    claims = platform.base_claims(
        nonce="", message_type="LtiResourceLinkRequest", sub="teacher-9", roles=[INSTRUCTOR]
    )
    del claims[LTI + "context"]
    response = launch(client, platform, tenant_a.institution, claims)
    assert response.status_code == 403 and b"named no course" in response.content
    assert client.get(reverse("dashboard:sessions")).status_code == 302


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_an_account_with_two_factor_on_gives_its_code_after_the_lms_sign_in(
    client, platform, registration, tenant_a, rows
):
    _instructor(client, platform, tenant_a)
    user = LtiCourseAccess.objects.get().user
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client.logout()

    response = _instructor(client, platform, tenant_a)
    assert response.status_code == 200 and b"two-factor code" in response.content
    assert client.get(reverse("dashboard:sessions")).status_code == 302  # not signed in yet
    ticket = response.context["ticket"]
    url = reverse("lti-two-factor", args=[tenant_a.institution.public_id])
    wrong = client.post(url, {"ticket": ticket, "token": "000000" if _code(device) != "000000" else "111111"})
    assert wrong.status_code == 400 and client.get(reverse("dashboard:sessions")).status_code == 302
    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.save()
    right = client.post(url, {"ticket": ticket, "token": _code(device)})
    assert right.status_code == 302 and right["Location"].startswith("/dashboard/")
    page = client.get(reverse("dashboard:sessions"))
    assert page.wsgi_request.user == user and page.wsgi_request.user.is_verified()
    assert _listed(page) == rows["mine"]


def test_a_two_factor_ticket_of_another_institution_is_refused(
    client, platform, registration, tenant_a, tenant_b, rows
):
    _instructor(client, platform, tenant_a)
    user = LtiCourseAccess.objects.get().user
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client.logout()
    ticket = _instructor(client, platform, tenant_a).context["ticket"]
    url = reverse("lti-two-factor", args=[tenant_b.institution.public_id])
    refused(client.post(url, {"ticket": ticket, "token": _code(device)}), "LTI_INVALID_TOKEN")
    assert client.get(reverse("dashboard:sessions")).status_code == 302


# --- the live page's socket ------------------------------------------------------------------------


def _cookie(client) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
async def sync_thread_disconnected():
    """The thread that runs the test's sync_to_async calls keeps its database connection after
    the test: closed here, so the test database can be dropped, and a second run in the same
    process (make mutate's) does not read through a connection to the first run's database."""
    yield
    from django.db import connections

    await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
async def test_the_live_socket_pushes_the_courses_flags_and_scores_only(
    client, platform, registration, tenant_a, rows, sync_thread_disconnected
):
    await sync_to_async(_instructor)(client, platform, tenant_a)
    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", _cookie(client).encode()),
    ]
    socket = WebsocketCommunicator(_application(), "/ws/dashboard/", headers=headers)
    connected, _ = await socket.connect(timeout=10)
    assert connected
    other, mine = rows["other_running"], rows["mine_running"]
    from channels.layers import get_channel_layer

    from proctorme.realtime import institution_group

    group = institution_group(tenant_a.institution.public_id)

    async def send(message: dict) -> None:
        await get_channel_layer().group_send(group, {"type": "institution.message", "message": message})

    # The consumer joins its groups before it accepts: a message sent right away reaches it.
    await send({"type": "score", "sessionId": str(mine.public_id), "trustScore": 90})
    first = await socket.receive_from(timeout=5)
    assert str(mine.public_id) in first and "90" in first

    await sync_to_async(flag_record)(
        session=other, type="MULTIPLE_FACE", episode_key="o1", started_at=other.started_at
    )
    for message in (
        {"type": "score", "sessionId": str(other.public_id), "trustScore": 12},
        {"type": "signal", "sessionId": str(other.public_id), "event": "TAB_HIDDEN"},
        {"type": "session", "sessionId": str(other.public_id)},
        {"type": "score", "sessionId": str(mine.public_id), "trustScore": 77},
    ):
        await get_channel_layer().group_send(
            institution_group(tenant_a.institution.public_id),
            {"type": "institution.message", "message": message},
        )
    # Messages of one group arrive in order: the next one is the course's score, nothing between.
    nxt = await socket.receive_from(timeout=5)
    assert str(mine.public_id) in nxt and "77" in nxt
    assert str(other.public_id) not in nxt and "Otto" not in nxt
    await sync_to_async(flag_record)(
        session=mine, type="MULTIPLE_FACE", episode_key="m1", started_at=mine.started_at
    )
    flag = await socket.receive_from(timeout=5)
    assert f"#flags-{mine.public_id}" in flag and "Carl" in flag
    await socket.disconnect()


def _application():
    from proctorme.asgi import application

    return application
