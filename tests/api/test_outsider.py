"""Every endpoint, called with another institution's secret key: 404 (the same body as for an
id that does not exist) or an empty list, and nothing changes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.accommodations import accommodation_set
from sessions.models import Accommodation, Assessment, ProctoringSession
from tenants.models import WebhookDelivery, WebhookEndpoint
from tenants.services import webhook_endpoint_create
from tests.api.api_factories import make_event, make_evidence, make_flag, make_session

OBJECT_ENDPOINTS = [
    ("get", "/api/v1/assessments/{assessment}", None),
    ("patch", "/api/v1/assessments/{assessment}", {"title": "hijacked"}),
    ("post", "/api/v1/assessments/{assessment}/archive", None),
    ("get", "/api/v1/candidates/{candidate}", None),
    ("patch", "/api/v1/candidates/{candidate}", {"firstName": "hijacked"}),
    ("get", "/api/v1/sessions/{session}", None),
    ("get", "/api/v1/sessions/{session}/flags", None),
    ("get", "/api/v1/sessions/{session}/events", None),
    ("get", "/api/v1/sessions/{session}/report", None),
    ("post", "/api/v1/sessions/{session}/end", None),
    ("post", "/api/v1/sessions/{session}/messages", {"text": "hijacked"}),
    ("post", "/api/v1/sessions/{session}/pause", {"reason": "hijacked"}),
    ("post", "/api/v1/sessions/{session}/resume", None),
    ("post", "/api/v1/sessions/{session}/extend", {"seconds": 600}),
    ("post", "/api/v1/sessions/{session}/terminate", {"reason": "hijacked"}),
    ("get", "/api/v1/accommodations/{accommodation}", None),
    ("patch", "/api/v1/accommodations/{accommodation}", {"note": "hijacked"}),
    ("delete", "/api/v1/accommodations/{accommodation}", None),
    ("get", "/api/v1/webhooks/{endpoint}", None),
    ("patch", "/api/v1/webhooks/{endpoint}", {"description": "hijacked"}),
    ("delete", "/api/v1/webhooks/{endpoint}", None),
    ("post", "/api/v1/webhooks/{endpoint}/ping", None),
    ("get", "/api/v1/webhooks/{endpoint}/deliveries", None),
    ("get", "/api/v1/webhooks/{endpoint}/deliveries/{delivery}", None),
    ("post", "/api/v1/webhooks/{endpoint}/deliveries/{delivery}/redeliver", None),
]
LIST_ENDPOINTS = [
    "/api/v1/assessments",
    "/api/v1/candidates",
    "/api/v1/sessions",
    "/api/v1/webhooks",
    "/api/v1/accommodations",
]


@pytest.fixture
def owned(tenant_a):
    """One of everything, owned by institution A."""
    session = make_session(
        tenant_a.institution, trust_score=50.0, started_at=timezone.now() - timedelta(minutes=30)
    )
    make_flag(session, evidence=make_evidence(session))
    make_event(session, seq=1)
    endpoint, _ = webhook_endpoint_create(institution=tenant_a.institution, url="https://93.184.216.34/hook")
    delivery = WebhookDelivery.objects.create(
        institution=tenant_a.institution, endpoint=endpoint, event="ping", payload={"event": "ping"}
    )
    accommodation = accommodation_set(candidate=session.candidate, extra_seconds=600, note="owned")
    return {
        "accommodation": accommodation.public_id,
        "assessment": session.assessment.public_id,
        "candidate": session.candidate.public_id,
        "session": session.public_id,
        "endpoint": endpoint.public_id,
        "delivery": delivery.public_id,
    }


def _call(client, method, path, body):
    return getattr(client, method)(path, body, format="json") if body else getattr(client, method)(path)


@pytest.mark.parametrize(("method", "template", "body"), OBJECT_ENDPOINTS)
def test_outsider_gets_not_found_for_every_object_endpoint(api_a, api_b, owned, method, template, body):
    path = template.format(**owned)
    outsider = _call(api_b, method, path, body)
    assert outsider.status_code == 404, outsider.content
    missing = _call(api_b, method, template.format(**dict.fromkeys(owned, uuid.uuid4())), body)
    assert outsider.json() == missing.json()  # "not yours" reads exactly like "does not exist"
    assert outsider.json()["error"]["code"] == "NOT_FOUND"
    # The owner still sees it.
    readable = (
        path.removesuffix("/archive").removesuffix("/end").removesuffix("/ping").removesuffix("/redeliver")
    )
    for action in ("/messages", "/pause", "/resume", "/extend", "/terminate"):
        readable = readable.removesuffix(action)
    assert api_a.get(readable).status_code == 200


def test_outsider_changed_nothing(api_b, owned):
    for method, template, body in OBJECT_ENDPOINTS:
        _call(api_b, method, template.format(**owned), body)
    assessment = Assessment.objects.get(public_id=owned["assessment"])
    assert assessment.title != "hijacked" and assessment.archived_at is None
    session = ProctoringSession.objects.get(public_id=owned["session"])
    assert session.status == "active" and session.paused_at is None
    assert not session.events.filter(type__in=["PROCTOR_MESSAGE", "TIME_EXTENDED"]).exists()
    assert not session.audit_entries.exists()
    accommodation = Accommodation.objects.get(public_id=owned["accommodation"])
    assert accommodation.note == "owned"
    endpoint = WebhookEndpoint.objects.get(public_id=owned["endpoint"])
    assert endpoint.description != "hijacked"
    assert WebhookDelivery.objects.get(public_id=owned["delivery"]).attempts.count() == 0
    assert WebhookDelivery.objects.count() == 1  # no ping was queued


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_outsider_lists_are_empty(api_a, api_b, owned, path):
    assert api_a.get(path).json()["results"] != []
    assert api_b.get(path).json() == {"results": [], "nextCursor": None, "next": None}


def test_outsider_usage_is_zero(api_a, api_b, owned):
    today = timezone.now().date().isoformat()
    assert api_a.get("/api/v1/usage", {"from": today, "to": today}).json()["totalCandidateHours"] > 0
    outsider = api_b.get("/api/v1/usage", {"from": today, "to": today}).json()
    assert outsider["totalCandidateHours"] == 0
    assert outsider["days"][0]["sessionsStarted"] == 0


def test_outsider_cannot_filter_by_foreign_ids(api_b, owned):
    for name in ("assessment", "candidate"):
        response = api_b.get("/api/v1/sessions", {name: str(owned[name])})
        assert response.status_code == 400
        assert list(response.json()["error"]["details"]["fields"]) == [name]
