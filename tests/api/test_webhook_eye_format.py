"""Eye by Proctorme's webhook body, per endpoint: event "Flag", domain = the page's origin; signed."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from sessions.webhooks import webhook_signature_verify
from tenants.services import webhook_endpoint_create
from tests.api.api_factories import make_evidence, make_session

EYE_BODY = {
    "event",
    "flagId",
    "candidateId",
    "examId",
    "type",
    "mediaUrl",
    "domain",
    "description",
    "createdAt",
}


@pytest.fixture
def endpoints(settings, tenant_a, receiver):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = True  # the receiver is on loopback
    eye, eye_secret = webhook_endpoint_create(
        institution=tenant_a.institution, url=receiver.url("/hooks/eye"), body_format="eye"
    )
    ours, ours_secret = webhook_endpoint_create(
        institution=tenant_a.institution, url=receiver.url("/hooks/ours")
    )
    return {"/hooks/eye": eye_secret, "/hooks/ours": ours_secret}


def test_an_eye_endpoint_gets_eyes_body_signed_and_ours_keeps_ours(
    tenant_a, endpoints, receiver, run_on_commit, sleeps
):
    from sessions.services import flag_record

    session = make_session(tenant_a.institution)
    with run_on_commit():
        flag, _ = flag_record(
            session=session,
            type="MULTIPLE_FACE",
            episode_key="faces-1",
            started_at=timezone.now(),
            evidence=make_evidence(session),
        )
    bodies = {}
    for request in receiver.requests:
        webhook_signature_verify(
            body=request.body, header=request.headers["Proctorme-Signature"], secret=endpoints[request.path]
        )
        bodies[request.path] = json.loads(request.body)
    eye, ours = bodies["/hooks/eye"], bodies["/hooks/ours"]
    assert set(eye) == EYE_BODY
    assert eye["event"] == "Flag" and eye["type"] == "MULTIPLE_FACE"
    assert eye["domain"] == "https://exams.alpha.edu"  # the page's origin, as Eye sends it
    assert eye["flagId"] == str(flag.public_id) and eye["examId"] == session.assessment.external_id
    assert eye["mediaUrl"].startswith("http")
    assert ours["event"] == "flag.created" and ours["domain"] == "exams.alpha.edu"


def test_the_format_is_set_and_shown_through_the_api(api_a, settings):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = True
    created = api_a.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/h", "format": "eye"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["format"] == "eye"
    endpoint_id = created.json()["id"]
    changed = api_a.patch(f"/api/v1/webhooks/{endpoint_id}", {"format": "proctorme"}, format="json")
    assert changed.json()["format"] == "proctorme"
    refused = api_a.patch(f"/api/v1/webhooks/{endpoint_id}", {"format": "xml"}, format="json")
    assert refused.status_code == 400
    assert api_a.get(f"/api/v1/webhooks/{endpoint_id}").json()["format"] == "proctorme"
