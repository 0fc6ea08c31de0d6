"""LTI Proctoring Services end to end at the HTTP level: LtiStartProctoring → the widget starts the
session with its launch ticket → LtiStartAssessment (verified by the test platform against our JWKS)
→ flags over ACS → LtiEndAssessment → the trust score over AGS; reviewers' controls; tenancy."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from sessions.lti.keys import tool_jwks
from sessions.lti.models import LtiAttempt, LtiServiceCall
from sessions.models import ProctoringSession
from sessions.services import flag_record, signal_record
from tests.lti.conftest import launch, refused
from tests.lti.platform import LTI, LTI_AP

pytestmark = pytest.mark.django_db
TOOL_ORIGIN = "http://testserver"


def _ticket(response) -> str:
    return json.loads(response.context["ticket_json"])


def _widget_start(client, ticket: str, origin: str = TOOL_ORIGIN):
    return client.post(
        "/widget/v1/sessions",
        json.dumps({"dialect": "lti", "config": {"launchTicket": ticket}}),
        content_type="application/json",
        HTTP_ORIGIN=origin,
    )


@pytest.fixture
def started(client, platform, registration, tenant_a):
    """A candidate through LtiStartProctoring, the widget's start and its system check."""
    platform.tool_jwks = tool_jwks(institution=tenant_a.institution)
    claims = platform.start_proctoring_claims(nonce="")
    page = launch(client, platform, tenant_a.institution, claims)
    ticket = _ticket(page)
    answer = _widget_start(client, ticket)
    assert answer.status_code == 201, answer.content
    session = ProctoringSession.objects.get(public_id=answer.json()["sessionId"])
    signal_record(session_id=session.pk, seq=1, event="STARTED", payload={})
    return {"claims": claims, "ticket": ticket, "session": session, "attempt": LtiAttempt.objects.get()}


def _start_assessment(client, started):
    url = reverse("lti-start-assessment", args=[started["attempt"].public_id])
    return client.post(url, {"ticket": started["ticket"]})


def test_the_launch_ticket_starts_a_session_tied_to_the_attempt(started, tenant_a):
    session, attempt = started["session"], started["attempt"]
    assert attempt.session == session
    assert session.institution == tenant_a.institution
    assert session.config["launch"] == "lti"
    assert session.config["tracking"]["tabSwitch"] is False  # the quiz is in the LMS's window
    assert session.assessment.title == "Midterm quiz"
    assert session.candidate.email == "ada@students.alpha.edu"


def test_the_ticket_works_only_from_the_tool_page(client, started):
    refused_start = _widget_start(client, started["ticket"], origin="https://exams.alpha.edu")
    assert refused_start.status_code == 403
    assert refused_start.json()["error"]["code"] == "DOMAIN_NOT_REGISTERED"
    bad = _widget_start(client, started["ticket"] + "x")
    assert bad.json()["error"]["code"] == "INVALID_TOKEN"


def test_uploads_of_an_lms_session_are_refused_from_the_institutions_own_domains(client, started):
    session = started["session"]
    from sessions.tokens import session_token_make

    token = session_token_make(session=session, origin="https://exams.alpha.edu")
    response = client.post(
        f"/widget/v1/sessions/{session.public_id}/end",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ORIGIN="https://exams.alpha.edu",
    )
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.status == "active"


def test_start_assessment_waits_for_the_system_check(client, platform, registration, tenant_a):
    page = launch(client, platform, tenant_a.institution, platform.start_proctoring_claims(nonce=""))
    ticket = _ticket(page)
    attempt = LtiAttempt.objects.get()
    url = reverse("lti-start-assessment", args=[attempt.public_id])
    assert client.post(url, {"ticket": ticket}).json()["error"]["code"] == "LTI_NOT_READY"
    _widget_start(client, ticket)  # consent given, but the system check has not passed yet
    assert client.post(url, {"ticket": ticket}).json()["error"]["code"] == "LTI_NOT_READY"


def test_start_assessment_echoes_the_launch_and_verifies_against_our_jwks(client, platform, started):
    response = _start_assessment(client, started)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["url"] == platform.base + "/start_assessment"
    claims = platform.verify_tool_jwt(body["jwt"], audience=platform.issuer)
    assert platform.check_start_assessment(claims) == []
    sent = started["claims"]
    assert claims[LTI_AP + "session_data"] == sent[LTI_AP + "session_data"]
    assert claims[LTI_AP + "attempt_number"] == 1
    assert claims[LTI + "resource_link"] == {"id": "quiz-42"}
    assert LTI_AP + "verified_user" not in claims  # no LMS photo: identity was not checked
    started["attempt"].refresh_from_db()
    assert started["attempt"].status == "assessment"


def test_verified_user_only_when_the_lms_photo_was_the_reference_and_matched(client, platform, started):
    attempt, session = started["attempt"], started["session"]
    attempt.claims = {**attempt.claims, "picture": "https://lms.example.edu/ada.jpg"}
    attempt.save()
    session.analysis_state = {"identity": {"source": "candidateImageUrl", "reference": [0.0]}}
    session.save()
    claims = platform.verify_tool_jwt(
        _start_assessment(client, started).json()["jwt"], audience=platform.issuer
    )
    assert claims[LTI_AP + "verified_user"]["picture"] == "https://lms.example.edu/ada.jpg"
    assert claims[LTI_AP + "verified_user"]["given_name"] == "Ada"
    flag_record(session=session, type="FACE_MISMATCH", episode_key="m", started_at=timezone.now())
    claims = platform.verify_tool_jwt(
        _start_assessment(client, started).json()["jwt"], audience=platform.issuer
    )
    assert LTI_AP + "verified_user" not in claims


def test_flags_reach_the_platform_through_acs(platform, started, django_capture_on_commit_callbacks):
    session = started["session"]
    with django_capture_on_commit_callbacks(execute=True):
        flag_record(session=session, type="MULTIPLE_FACE", episode_key="e1", started_at=timezone.now())
        flag_record(session=session, type="PERIODIC_SNAPSHOT", episode_key="p1", started_at=timezone.now())
    assert platform.errors == []
    assert [c["action"] for c in platform.acs_requests] == ["flag"]  # a random photo is not a violation
    control = platform.acs_requests[0]
    assert control["reason_code"] == "MULTIPLE_FACE"
    assert control["user"] == {"iss": platform.issuer, "sub": "student-1"}
    assert control["resource_link"] == {"id": "quiz-42"} and control["attempt_number"] == 1
    assert LtiServiceCall.objects.get(service="acs").succeeded


def test_end_assessment_ends_the_session_and_the_score_arrives_through_ags(
    client, platform, started, tenant_a, django_capture_on_commit_callbacks
):
    _start_assessment(client, started)
    end = platform.base_claims(nonce="", message_type="LtiEndAssessment")
    end[LTI_AP + "attempt_number"] = 1
    with django_capture_on_commit_callbacks(execute=True):
        response = launch(client, platform, tenant_a.institution, end)
    assert response.status_code == 200 and b"Proctoring has ended" in response.content
    session = started["session"]
    session.refresh_from_db()
    assert session.status == "completed" and session.end_reason == "lms_ended"
    assert platform.errors == []
    assert len(platform.lineitems) == 1
    item = platform.lineitems[0]
    assert item["tag"] == "proctorme-trust-score" and item["resourceLinkId"] == "quiz-42"
    [score] = platform.scores
    assert score["lineitem"] == item["id"] != platform.base + "/lineitems/quiz"  # never the quiz's grade
    assert score["userId"] == "student-1"
    assert score["scoreGiven"] == round(session.trust_score, 1) and score["scoreMaximum"] == 100
    assert f"/dashboard/sessions/{session.public_id}/" in score["comment"]
    assert "not reviewed" in score["comment"]

    from sessions.dashboard.services import session_verdict_set

    with django_capture_on_commit_callbacks(execute=True):
        session_verdict_set(session=session, actor=tenant_a.reviewer, verdict="cleared")
    assert len(platform.lineitems) == 1  # the same line item again
    assert "verdict: Cleared" in platform.scores[-1]["comment"]
    assert platform.scores[-1]["gradingProgress"] == "FullyGraded"


def test_no_ags_without_the_scopes(
    client, platform, registration, tenant_a, django_capture_on_commit_callbacks
):
    platform.tool_jwks = tool_jwks(institution=tenant_a.institution)
    claims = platform.start_proctoring_claims(nonce="", ags=False)
    ticket = _ticket(launch(client, platform, tenant_a.institution, claims))
    session = ProctoringSession.objects.get(public_id=_widget_start(client, ticket).json()["sessionId"])
    from sessions.finalise import session_finalise
    from sessions.services import session_end

    with django_capture_on_commit_callbacks(execute=True):
        session_end(session=session)
        session_finalise(session=session)
    assert platform.scores == [] and platform.lineitems == []


def _api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_lms_controls_act_on_the_proctoring_session_and_the_lms(platform, started, tenant_a):
    session = started["session"]
    url = f"/api/v1/sessions/{session.public_id}/lms-control"
    deadline = session.deadline_at
    extended = _api(tenant_a.secret_key).post(url, {"action": "update", "extraTime": 600}, format="json")
    assert extended.status_code == 200, extended.content
    assert extended.json() == {"status": "running", "extra_time": 600}
    session.refresh_from_db()
    assert session.deadline_at == deadline + timedelta(seconds=600)
    paused = _api(tenant_a.secret_key).post(url, {"action": "pause", "reason": "noise"}, format="json")
    assert paused.json()["status"] == "paused"
    session.refresh_from_db()
    # Both sides: the LMS's quiz and our capture and clock.
    assert session.status == "active" and session.paused_at is not None
    assert session.events.filter(type="PROCTORING_PAUSED").count() == 1
    resumed = _api(tenant_a.secret_key).post(url, {"action": "resume"}, format="json")
    assert resumed.json()["status"] == "running"
    session.refresh_from_db()
    assert session.paused_at is None and session.deadline_at > deadline + timedelta(seconds=600)
    ended = _api(tenant_a.secret_key).post(url, {"action": "terminate", "reason": "cheating"}, format="json")
    assert ended.json()["status"] == "terminated"
    session.refresh_from_db()
    assert session.status != "active" and session.end_reason == "terminated"
    assert [c["action"] for c in platform.acs_requests] == ["update", "pause", "resume", "terminate"]
    assert platform.acs_requests[1]["reason_msg"] == "noise"
    control = session.events.filter(type="LMS_CONTROL").order_by("pk").values_list("payload", flat=True)
    assert [p["action"] for p in control] == ["update", "pause", "resume", "terminate"]
    assert all(p["by"].startswith("API key ") for p in control)


def test_the_proctoring_controls_tell_the_lms_too(client, platform, started, tenant_a):
    """The live page's and the API's pause / resume / extend / terminate of an LMS session reach
    the LMS through ACS, the same path as the LMS card."""
    session = started["session"]
    client.force_login(tenant_a.reviewer)
    pause = client.post(
        reverse("dashboard:intervene-pause", args=[session.public_id]),
        {"reason": "check the room"},
        follow=True,
    )
    assert "The LMS reports the attempt as paused." in pause.content.decode()
    session.refresh_from_db()
    assert session.paused_at is not None
    resumed = _api(tenant_a.secret_key).post(f"/api/v1/sessions/{session.public_id}/resume", format="json")
    assert resumed.status_code == 200, resumed.content
    extended = _api(tenant_a.secret_key).post(
        f"/api/v1/sessions/{session.public_id}/extend", {"seconds": 120}, format="json"
    )
    assert extended.status_code == 200, extended.content
    client.post(
        reverse("dashboard:intervene-terminate", args=[session.public_id]), {"reason": "second person"}
    )
    assert [(c["action"], c.get("extra_time"), c.get("reason_msg")) for c in platform.acs_requests] == [
        ("pause", None, "check the room"),
        ("resume", None, None),
        ("update", 120, None),
        ("terminate", None, "second person"),
    ]
    session.refresh_from_db()
    assert session.end_reason == "terminated"


def test_an_lms_that_fails_does_not_undo_the_pause_and_says_so(client, platform, started, tenant_a):
    session = started["session"]
    platform.acs_down = True
    client.force_login(tenant_a.reviewer)
    page = client.post(reverse("dashboard:intervene-pause", args=[session.public_id]), {}, follow=True)
    assert "The LMS did not take it (LTI_PLATFORM_UNREACHABLE)" in page.content.decode()
    session.refresh_from_db()
    assert session.paused_at is not None
    [event] = session.events.filter(type="LMS_CONTROL").values_list("payload", flat=True)
    assert (
        event["action"] == "pause" and event["error"] == "LTI_PLATFORM_UNREACHABLE" and "answer" not in event
    )


def test_an_action_the_lms_did_not_offer_changes_nothing(client, platform, registration, tenant_a):
    claims = platform.start_proctoring_claims(nonce="")
    claims[LTI_AP + "acs"]["actions"] = ["flag", "terminate"]
    platform.tool_jwks = tool_jwks(institution=tenant_a.institution)
    ticket = _ticket(launch(client, platform, tenant_a.institution, claims))
    session = ProctoringSession.objects.get(public_id=_widget_start(client, ticket).json()["sessionId"])
    answer = _api(tenant_a.secret_key).post(
        f"/api/v1/sessions/{session.public_id}/lms-control", {"action": "pause"}, format="json"
    )
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "LTI_SERVICE_NOT_OFFERED"
    session.refresh_from_db()
    assert session.paused_at is None and platform.acs_requests == []
    # Our own pause still works; the LMS is not asked for what it did not offer.
    assert (
        _api(tenant_a.secret_key)
        .post(f"/api/v1/sessions/{session.public_id}/pause", format="json")
        .status_code
        == 200
    )
    session.refresh_from_db()
    assert session.paused_at is not None and platform.acs_requests == []


def test_control_of_a_session_not_from_an_lms_is_refused(tenant_a):
    from tests.api.api_factories import make_session

    session = make_session(tenant_a.institution)
    answer = _api(tenant_a.secret_key).post(
        f"/api/v1/sessions/{session.public_id}/lms-control", {"action": "pause"}, format="json"
    )
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "LTI_SERVICE_NOT_OFFERED"


# --- tenancy: one institution's registration never starts, reads or controls another's sessions ---


def test_another_institution_cannot_control_the_session(platform, started, tenant_b):
    session = started["session"]
    answer = _api(tenant_b.secret_key).post(
        f"/api/v1/sessions/{session.public_id}/lms-control", {"action": "terminate"}, format="json"
    )
    assert answer.status_code == 404
    assert platform.acs_requests == []
    session.refresh_from_db()
    assert session.status == "active"


def test_another_institutions_registration_cannot_end_or_read_the_attempt(
    client, platform, started, tenant_b
):
    from sessions.lti.registrations import lti_registration_create

    # The very same LMS, registered by Beta too, sends LtiEndAssessment to Beta's URLs.
    lti_registration_create(institution=tenant_b.institution, name="Same LMS", **platform.urls())
    end = platform.base_claims(nonce="", message_type="LtiEndAssessment")
    end[LTI_AP + "attempt_number"] = 1
    platform.tool_login_url = "http://testserver" + reverse(
        "lti-login", args=[tenant_b.institution.public_id]
    )
    refused(launch(client, platform, tenant_b.institution, end), "LTI_UNKNOWN_ATTEMPT")
    session = started["session"]
    session.refresh_from_db()
    assert session.status == "active"
    # Its StartProctoring for the same user and link makes its own attempt and session, never Alpha's.
    page = launch(client, platform, tenant_b.institution, platform.start_proctoring_claims(nonce=""))
    beta = _widget_start(client, _ticket(page)).json()
    assert beta["sessionId"] != str(session.public_id)
    assert ProctoringSession.objects.get(public_id=beta["sessionId"]).institution == tenant_b.institution
    # Beta's ticket cannot fetch Alpha's LtiStartAssessment.
    url = reverse("lti-start-assessment", args=[started["attempt"].public_id])
    assert client.post(url, {"ticket": _ticket(page)}).json()["error"]["code"] == "INVALID_TOKEN"
    assert _api(tenant_b.secret_key).get(f"/api/v1/sessions/{session.public_id}").status_code == 404


# --- deep linking ---------------------------------------------------------------------------------

LTI_DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def _deep_link_claims(platform, *, roles):
    claims = platform.base_claims(
        nonce="", message_type="LtiDeepLinkingRequest", sub="teacher-9", roles=roles
    )
    del claims[LTI + "resource_link"]
    claims[LTI_DL + "deep_linking_settings"] = {
        "deep_link_return_url": platform.base + "/deep_link_return",
        "accept_types": ["ltiResourceLink"],
        "data": "opaque-42",
    }
    return claims


def test_an_instructor_adds_proctoring_for_a_quiz_through_deep_linking(
    client, platform, registration, tenant_a
):
    from sessions.models import Assessment
    from tests.lti.platform import INSTRUCTOR

    platform.tool_jwks = tool_jwks(institution=tenant_a.institution)
    form = launch(client, platform, tenant_a.institution, _deep_link_claims(platform, roles=[INSTRUCTOR]))
    assert form.status_code == 200 and b"Add proctoring" in form.content
    answer = client.post(
        reverse("lti-deep-link", args=[tenant_a.institution.public_id]),
        {
            "ticket": form.context["ticket"],
            "title": "Midterm",
            "minutes": "45",
            "disabled": ["SOUND_DETECTED"],
        },
    )
    assert answer.status_code == 200
    assert answer.context["action"] == platform.base + "/deep_link_return"
    claims = platform.verify_tool_jwt(answer.context["fields"]["JWT"], audience=platform.issuer)
    assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[LTI + "deployment_id"] == platform.deployment_id
    assert claims[LTI_DL + "data"] == "opaque-42"
    [item] = claims[LTI_DL + "content_items"]
    assert item["type"] == "ltiResourceLink" and item["title"] == "Midterm"
    assert item["url"].endswith(f"/lti/{tenant_a.institution.public_id}/launch")
    assessment = Assessment.objects.get(public_id=item["custom"]["proctorme_assessment"])
    assert assessment.institution == tenant_a.institution
    assert assessment.duration_seconds == 45 * 60
    assert assessment.detector_settings["disabled"] == ["SOUND_DETECTED"]

    # The LMS launches the link it made: the session is for that assessment, with its rules.
    start = platform.start_proctoring_claims(nonce="")
    start[LTI + "custom"] = item["custom"]
    ticket = _ticket(launch(client, platform, tenant_a.institution, start))
    session = ProctoringSession.objects.get(public_id=_widget_start(client, ticket).json()["sessionId"])
    assert session.assessment == assessment
    assert session.config["examSeconds"] == 45 * 60


def test_a_learner_cannot_deep_link(client, platform, registration, tenant_a):
    from sessions.models import Assessment

    response = launch(client, platform, tenant_a.institution, _deep_link_claims(platform, roles=[]))
    refused(response, "LTI_NOT_INSTRUCTOR")
    assert not Assessment.objects.exists()


def test_a_deep_linked_assessment_of_another_institution_is_not_used(
    client, platform, registration, tenant_a, tenant_b
):
    from sessions.models import Assessment

    foreign = Assessment.objects.create(
        institution=tenant_b.institution, external_id="theirs", duration_seconds=60
    )
    start = platform.start_proctoring_claims(nonce="")
    start[LTI + "custom"] = {"proctorme_assessment": str(foreign.public_id)}
    ticket = _ticket(launch(client, platform, tenant_a.institution, start))
    session = ProctoringSession.objects.get(public_id=_widget_start(client, ticket).json()["sessionId"])
    assert session.assessment != foreign and session.assessment.institution == tenant_a.institution


def test_a_forged_deep_linking_form_is_refused(client, platform, registration, tenant_a):
    answer = client.post(
        reverse("lti-deep-link", args=[tenant_a.institution.public_id]), {"ticket": "forged", "title": "x"}
    )
    refused(answer, "INVALID_TOKEN")


# --- reviewers' controls on the dashboard -----------------------------------------------------------


def test_a_reviewer_extends_and_terminates_from_the_session_page(client, platform, started, tenant_a):
    session = started["session"]
    client.force_login(tenant_a.reviewer)
    page = client.get(f"/dashboard/sessions/{session.public_id}/")
    assert b'id="lms-card"' in page.content and b"Terminate attempt" in page.content
    url = reverse("lti-session-control", args=[session.public_id])
    deadline = session.deadline_at
    client.post(url, {"action": "update", "minutes": "5"})
    session.refresh_from_db()
    assert session.deadline_at == deadline + timedelta(minutes=5)
    response = client.post(url, {"action": "terminate", "reason": "second person"}, follow=True)
    assert (
        "Done for proctoring and the LMS; it reports the attempt as terminated." in response.content.decode()
    )
    assert [(c["action"], c.get("extra_time")) for c in platform.acs_requests] == [
        ("update", 300),
        ("terminate", None),
    ]
    assert platform.acs_requests[1]["reason_msg"] == "second person"
    session.refresh_from_db()
    assert session.end_reason == "terminated"
    control = session.events.filter(type="LMS_CONTROL").values_list("payload", flat=True)
    assert [p["by"] for p in control] == [tenant_a.reviewer.email] * 2


def test_another_institutions_reviewer_cannot_control_or_see_the_lms_card(
    client, platform, started, tenant_b
):
    session = started["session"]
    client.force_login(tenant_b.reviewer)
    assert client.get(f"/dashboard/sessions/{session.public_id}/").status_code == 404
    assert (
        client.post(
            reverse("lti-session-control", args=[session.public_id]), {"action": "terminate"}
        ).status_code
        == 404
    )
    assert platform.acs_requests == []


def test_sessions_not_from_an_lms_have_no_lms_card(client, tenant_a):
    from tests.api.api_factories import make_session

    session = make_session(tenant_a.institution)
    client.force_login(tenant_a.reviewer)
    assert b'id="lms-card"' not in client.get(f"/dashboard/sessions/{session.public_id}/").content


def test_an_unreachable_lms_gets_the_score_later(
    platform, started, monkeypatch, django_capture_on_commit_callbacks
):
    """AGS answers 503 while the LMS is down; the task is enqueued again with a growing delay, the
    retry (run here by hand, as the worker would) delivers the score, and it gives up after RETRIES."""
    from sessions.finalise import session_finalise
    from sessions.lti import tasks
    from sessions.services import session_end

    session = started["session"]
    queued = []
    monkeypatch.setattr(
        tasks, "enqueue", lambda task, *args, countdown=None: queued.append((task, args, countdown))
    )
    platform.ags_down = True
    with django_capture_on_commit_callbacks(execute=True):
        session_end(session=session)
        session_finalise(session=session)
    assert queued == [(tasks.lti_ags_publish_task, (str(session.public_id), 1), 30)]
    assert platform.scores == []
    assert LtiServiceCall.objects.filter(service="ags", succeeded=False, status_code=503).exists()
    queued.clear()
    tasks.lti_ags_publish_task.run(str(session.public_id), 3)
    assert queued == [(tasks.lti_ags_publish_task, (str(session.public_id), 4), 240)]
    queued.clear()
    tasks.lti_ags_publish_task.run(str(session.public_id), tasks.RETRIES)
    assert queued == []  # given up
    platform.ags_down = False  # the LMS is back
    tasks.lti_ags_publish_task.run(str(session.public_id), 1)
    assert queued == [] and len(platform.scores) == 1


def test_the_widget_speaks_the_lms_users_language(client, platform, registration, tenant_a):
    claims = platform.start_proctoring_claims(nonce="")
    claims[LTI + "launch_presentation"] = {"locale": "fr-CA", "document_target": "window"}
    page = launch(client, platform, tenant_a.institution, claims).content.decode()
    assert '"locale": "fr-CA"' in page
    plain = launch(
        client, platform, tenant_a.institution, platform.start_proctoring_claims(nonce="", attempt=2)
    )
    assert '"locale"' not in plain.content.decode()
