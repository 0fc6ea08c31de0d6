"""Accommodations: set by admins (dashboard) and integrators (API), audited, applied when a
session starts (the server's deadline, the detectors, the devices asked for) and named by the
trust score wherever it is shown."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from sessions.accommodations import CAMERA_DETECTORS, accommodation_set
from sessions.config import parse_eye
from sessions.finalise import session_finalise
from sessions.models import Accommodation, AuditLogEntry
from sessions.services import DEADLINE_GRACE, session_end, session_start
from tests.api.api_factories import client_for
from tests.factories import AssessmentFactory, CandidateFactory, FlagFactory

ORIGIN = "https://exams.alpha.edu"


def _start(tenant, *, assessment="math", candidate="cand-1", seconds=3600):
    request = parse_eye(
        {
            "apiKey": tenant.publishable_key,
            "assessmentId": assessment,
            "assessmentTitle": "Math",
            "candidateId": candidate,
            "candidateEmail": "c@x.edu",
            "candidateFirstName": "C",
            "candidateLastName": "D",
            "institutionName": "X",
            "examDuration": seconds,
        }
    )
    return session_start(request=request, origin=ORIGIN).session


@pytest.fixture
def candidate(tenant_a):
    return CandidateFactory(institution=tenant_a.institution, external_id="cand-1")


@pytest.fixture
def math(tenant_a):
    return AssessmentFactory(institution=tenant_a.institution, external_id="math", duration_seconds=None)


# --- applied at the start ----------------------------------------------------------------------


def test_the_deadline_follows_the_multiplier_then_the_extra_time(tenant_a, candidate):
    accommodation_set(
        candidate=candidate, time_multiplier=Decimal("1.50"), extra_seconds=600, actor=tenant_a.admin
    )
    session = _start(tenant_a)
    # 3600 s × 1.5 + 600 s = 6000 s
    assert session.config["examSeconds"] == 6000
    expected = session.started_at + timedelta(seconds=6000) + DEADLINE_GRACE
    assert abs(session.deadline_at - expected) < timedelta(seconds=1)
    assert session.config["accommodation"]["scope"] == "candidate"


def test_the_one_for_the_assessment_replaces_the_general_one(tenant_a, candidate, math):
    accommodation_set(candidate=candidate, extra_seconds=1200)
    accommodation_set(candidate=candidate, assessment=math, extra_seconds=300, note="Reads aloud")
    assert _start(tenant_a).config["examSeconds"] == 3900
    other = _start(tenant_a, assessment="physics")
    assert other.config["examSeconds"] == 4800


def test_a_candidate_without_one_gets_the_plain_exam(tenant_a, candidate):
    accommodation_set(candidate=CandidateFactory(institution=tenant_a.institution), extra_seconds=900)
    session = _start(tenant_a)
    assert session.config["examSeconds"] == 3600 and session.config["accommodation"] is None
    assert session.config["media"] == {"camera": True, "microphone": True}


def test_no_camera_and_no_sound_exempt_the_devices(tenant_a, candidate):
    accommodation_set(candidate=candidate, disabled_detectors=[*CAMERA_DETECTORS, "SOUND_DETECTED"])
    session = _start(tenant_a)
    assert session.config["media"] == {"camera": False, "microphone": False}
    assert session.config["features"] == {"aiProctoring": False, "facialRecognition": False}
    assert session.config["tracking"]["audio"] is False and session.config["tracking"]["numHumans"] is False


def test_sound_detection_off_keeps_the_camera(tenant_a, candidate):
    accommodation_set(candidate=candidate, disabled_detectors=["SOUND_DETECTED"])
    session = _start(tenant_a)
    assert session.config["media"] == {"camera": True, "microphone": False}
    assert session.config["tracking"]["audio"] is False
    assert session.config["features"]["aiProctoring"] is True


def test_a_switched_off_detector_costs_nothing_and_the_breakdown_says_why(
    tenant_a, candidate, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    settings.TASKS_MODE = "sync"
    accommodation_set(
        candidate=candidate, disabled_detectors=["SOUND_DETECTED"], note="Reads questions aloud"
    )
    session = _start(tenant_a)
    FlagFactory(session=session, type="SOUND_DETECTED", at_seconds=10, seconds=120)
    FlagFactory(session=session, type="TAB_NOT_FOCUS", at_seconds=200, seconds=30)
    session = session_finalise(session=session_end(session=session))
    session.refresh_from_db()
    types = session.trust_breakdown["types"]
    assert "SOUND_DETECTED" not in types and types["TAB_NOT_FOCUS"]["deduction"] > 0
    applied = session.trust_breakdown["accommodation"]
    assert applied["disabledDetectors"] == ["SOUND_DETECTED"] and applied["note"] == "Reads questions aloud"


# --- the API -----------------------------------------------------------------------------------


def test_api_sets_reads_changes_and_removes(tenant_a, candidate, math):
    api = client_for(tenant_a.secret_key)
    created = api.post(
        "/api/v1/accommodations",
        {
            "candidate": str(candidate.public_id),
            "assessment": str(math.public_id),
            "timeMultiplier": "1.25",
            "disabledDetectors": ["SOUND_DETECTED"],
            "note": "Dyslexia",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["timeMultiplier"] == 1.25 and body["extraSeconds"] == 0
    assert body["assessment"]["id"] == str(math.public_id) and body["candidate"]["id"] == str(
        candidate.public_id
    )
    replaced = api.post(
        "/api/v1/accommodations",
        {"candidate": str(candidate.public_id), "assessment": str(math.public_id), "extraSeconds": 900},
        format="json",
    )
    assert replaced.status_code == 200 and replaced.json()["id"] == body["id"]
    assert replaced.json()["timeMultiplier"] == 1.0  # a set replaces the whole accommodation
    path = f"/api/v1/accommodations/{body['id']}"
    patched = api.patch(path, {"note": "Dyslexia; reads aloud"}, format="json")
    assert patched.status_code == 200 and patched.json()["extraSeconds"] == 900
    assert (
        api.get("/api/v1/accommodations", {"candidate": str(candidate.public_id)}).json()["results"][0]["id"]
        == body["id"]
    )
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    actions = list(
        AuditLogEntry.objects.filter(candidate=candidate)
        .order_by("created_at", "pk")
        .values_list("action", flat=True)
    )
    assert actions == ["accommodation_set", "accommodation_set", "accommodation_set", "accommodation_removed"]
    first = AuditLogEntry.objects.filter(candidate=candidate).order_by("created_at", "pk").first()
    assert first.details["before"] is None and first.details["after"]["note"] == "Dyslexia"
    assert first.actor_label.startswith("API key sk_")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeMultiplier", "0.5"),
        ("timeMultiplier", "5"),
        ("extraSeconds", -1),
        ("disabledDetectors", ["NOPE"]),
    ],
)
def test_api_refuses_bad_values(tenant_a, candidate, field, value):
    api = client_for(tenant_a.secret_key)
    response = api.post(
        "/api/v1/accommodations", {"candidate": str(candidate.public_id), field: value}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["details"]["fields"]
    assert not Accommodation.objects.exists()


def test_api_outsider_cannot_set_one_for_anothers_candidate(tenant_a, tenant_b, candidate):
    api = client_for(tenant_b.secret_key)
    response = api.post("/api/v1/accommodations", {"candidate": str(candidate.public_id)}, format="json")
    assert response.status_code == 400 and "candidate" in response.json()["error"]["details"]["fields"]
    assert not Accommodation.objects.exists()


# --- the dashboard (admins) --------------------------------------------------------------------


def test_admin_sets_and_removes_one_in_the_dashboard(client, tenant_a, candidate, math):
    client.force_login(tenant_a.admin)
    page = client.get(reverse("dashboard:accommodations"))
    assert page.status_code == 200 and str(candidate.public_id).encode() in page.content
    saved = client.post(
        reverse("dashboard:accommodations"),
        {
            "candidate": str(candidate.public_id),
            "assessment": "",
            "extra_minutes": "15",
            "time_multiplier": "1.00",
            "disabled_detectors": list(CAMERA_DETECTORS),
            "note": "Camera exemption",
        },
    )
    assert saved.status_code == 302
    accommodation = Accommodation.objects.get(candidate=candidate)
    assert accommodation.extra_seconds == 900 and accommodation.assessment is None
    assert accommodation.disabled_detectors == list(CAMERA_DETECTORS)
    entry = AuditLogEntry.objects.get(candidate=candidate)
    assert entry.actor == tenant_a.admin and entry.action == "accommodation_set"
    listed = client.get(reverse("dashboard:accommodations"))
    assert b"Camera exemption" in listed.content and b"Accommodation set" in listed.content
    removed = client.post(reverse("dashboard:accommodation-delete", args=[accommodation.public_id]))
    assert removed.status_code == 302 and not Accommodation.objects.exists()


def test_removing_one_in_the_dashboard_removes_that_one_only(client, tenant_a, candidate, math):
    general = accommodation_set(candidate=candidate, extra_seconds=600)
    for_math = accommodation_set(candidate=candidate, assessment=math, extra_seconds=300)
    another = CandidateFactory(institution=tenant_a.institution, external_id="cand-2")
    other = accommodation_set(candidate=another, extra_seconds=60)
    client.force_login(tenant_a.admin)
    removed = client.post(reverse("dashboard:accommodation-delete", args=[for_math.public_id]))
    assert removed.status_code == 302
    assert set(Accommodation.objects.values_list("pk", flat=True)) == {general.pk, other.pk}


def test_dashboard_refuses_bad_input(client, tenant_a, candidate):
    client.force_login(tenant_a.admin)
    response = client.post(
        reverse("dashboard:accommodations"),
        {"candidate": str(candidate.public_id), "extra_minutes": "0", "time_multiplier": "9"},
    )
    assert response.status_code == 400 and not Accommodation.objects.exists()


def test_reviewer_may_not_and_outsider_gets_404(client, tenant_a, tenant_b, candidate):
    accommodation = accommodation_set(candidate=candidate, extra_seconds=60)
    client.force_login(tenant_a.reviewer)
    assert client.get(reverse("dashboard:accommodations")).status_code == 403
    assert (
        client.post(reverse("dashboard:accommodation-delete", args=[accommodation.public_id])).status_code
        == 403
    )
    client.force_login(tenant_b.admin)
    page = client.get(reverse("dashboard:accommodations"))
    assert page.status_code == 200 and str(candidate.public_id).encode() not in page.content
    assert (
        client.post(reverse("dashboard:accommodation-delete", args=[accommodation.public_id])).status_code
        == 404
    )
    smuggled = client.post(
        reverse("dashboard:accommodations"),
        {"candidate": str(candidate.public_id), "extra_minutes": "5", "time_multiplier": "1.00"},
    )
    assert smuggled.status_code == 400
    assert Accommodation.objects.get().extra_seconds == 60


def test_reviewers_see_the_note_on_the_session_page(client, tenant_a, candidate):
    accommodation_set(candidate=candidate, extra_seconds=600, note="Extra time: documented disability")
    session = _start(tenant_a)
    client.force_login(tenant_a.reviewer)
    page = client.get(reverse("dashboard:session", args=[session.public_id]))
    assert b"Accommodation applied" in page.content and b"Extra time: documented disability" in page.content
