"""Live intervention through the REST API: message, pause, resume, extend, terminate.

The owner's secret key acts on its running session (another institution's key gets a 404:
tests/api/test_outsider.py); a session that is not running, or not in the right state, is
refused with a stable code; every action is on the timeline and in the audit log.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.models import AuditLogEntry, Event
from sessions.services import session_is_overdue, sessions_expire_overdue
from tests.api.api_factories import make_session


@pytest.fixture
def running(tenant_a):
    now = timezone.now()
    return make_session(
        tenant_a.institution, started_at=now - timedelta(minutes=10), deadline_at=now + timedelta(minutes=20)
    )


def _url(session, action: str) -> str:
    return f"/api/v1/sessions/{session.public_id}/{action}"


def test_message_is_recorded_and_audited(api_a, running, tenant_a):
    response = api_a.post(_url(running, "messages"), {"text": "  Please face the camera.  "}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["text"] == "Please face the camera." and len(body["messageId"]) == 32
    event = Event.objects.get(session=running, type="PROCTOR_MESSAGE")
    assert event.payload["messageId"] == body["messageId"] and event.source == "server"
    entry = AuditLogEntry.objects.get(session=running)
    assert entry.action == "message_sent" and entry.details["text"] == "Please face the camera."
    assert entry.actor is None and entry.actor_label.startswith("API key sk_")


def test_empty_message_is_a_validation_error(api_a, running):
    response = api_a.post(_url(running, "messages"), {"text": ""}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not Event.objects.filter(session=running, type="PROCTOR_MESSAGE").exists()


def test_pause_stops_the_clock_and_resume_moves_the_deadline(api_a, running, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    deadline = running.deadline_at
    paused = api_a.post(_url(running, "pause"), {"reason": "Fire drill"}, format="json")
    assert paused.status_code == 200, paused.content
    assert paused.json()["pausedAt"] is not None
    # Past the deadline while paused: never overdue, never expired.
    time_machine.shift(timedelta(minutes=45))
    running.refresh_from_db()
    assert not session_is_overdue(running)
    assert sessions_expire_overdue() == 0
    again = api_a.post(_url(running, "pause"), format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "SESSION_PAUSED"
    resumed = api_a.post(_url(running, "resume"))
    assert resumed.status_code == 200, resumed.content
    running.refresh_from_db()
    assert running.paused_at is None
    assert running.paused_seconds == pytest.approx(45 * 60, abs=1)
    assert running.deadline_at - deadline == pytest.approx(timedelta(minutes=45), abs=timedelta(seconds=1))
    assert resumed.json()["pausedSeconds"] == pytest.approx(45 * 60, abs=1)
    not_paused = api_a.post(_url(running, "resume"))
    assert not_paused.status_code == 409 and not_paused.json()["error"]["code"] == "SESSION_NOT_PAUSED"
    actions = list(
        AuditLogEntry.objects.filter(session=running).order_by("created_at").values_list("action", flat=True)
    )
    assert actions == ["paused", "resumed"]
    types = list(Event.objects.filter(session=running, source="server").values_list("type", flat=True))
    assert types == ["PROCTORING_PAUSED", "PROCTORING_RESUMED"]


def test_extend_moves_the_deadline(api_a, running):
    deadline = running.deadline_at
    response = api_a.post(_url(running, "extend"), {"seconds": 600}, format="json")
    assert response.status_code == 200, response.content
    running.refresh_from_db()
    assert running.deadline_at - deadline == timedelta(seconds=600)
    for bad in (0, 6 * 3600 + 1, "ten"):
        refused = api_a.post(_url(running, "extend"), {"seconds": bad}, format="json")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "VALIDATION_ERROR"


def test_terminate_ends_with_the_reason(api_a, running):
    response = api_a.post(_url(running, "terminate"), {"reason": "Phone on the desk"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] in {"finalising", "completed"} and body["endReason"] == "terminated"
    end = Event.objects.get(session=running, type="END_PROCTORING")
    assert end.payload == {"reason": "terminated", "message": "Phone on the desk"}
    assert AuditLogEntry.objects.get(session=running).details == {"reason": "Phone on the desk"}
    no_reason = api_a.post(_url(make_session(running.institution), "terminate"), {}, format="json")
    assert no_reason.status_code == 400


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("messages", {"text": "hello"}),
        ("pause", None),
        ("resume", None),
        ("extend", {"seconds": 60}),
        ("terminate", {"reason": "late"}),
    ],
)
def test_only_while_the_session_runs(api_a, tenant_a, action, body):
    ended = make_session(tenant_a.institution, status="completed", ended_at=timezone.now())
    response = (
        api_a.post(_url(ended, action), body, format="json") if body else api_a.post(_url(ended, action))
    )
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "SESSION_ALREADY_ENDED"
    assert not AuditLogEntry.objects.filter(session=ended).exists()
