"""Property-based run of schemathesis against /api/schema/, through Django's WSGI app.

Every operation of the schema gets a bounded number of generated requests
(valid and invalid), sent with a real institution's secret key; about half of
them point their path ids at real rows of that institution so the success
paths run too. No response may be a 5xx, and every response (errors
included) must match the schema: status code, content type, headers, body.

Schemathesis's ``negative_data_rejection`` check is left out on purpose: DRF
coerces JSON types leniently (``"8"`` is accepted for an integer), which that
check reports although no invalid data reaches the database.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from proctorme import outbound
from sessions import webhooks
from tenants.models import WebhookDelivery
from tenants.services import webhook_endpoint_create
from tests.api.api_factories import make_event, make_evidence, make_flag, make_session

MAX_EXAMPLES = int(os.environ.get("PROCTORME_SCHEMATHESIS_EXAMPLES", "40"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def no_network(monkeypatch, settings):
    """Webhook targets resolve to a public address and every delivery is answered 200
    without leaving the process."""
    settings.PROCTORME_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(outbound, "_resolve", lambda host, port: ["93.184.216.34"])
    monkeypatch.setattr(webhooks, "_post", lambda **kwargs: (200, "ok"))
    monkeypatch.setattr(webhooks, "_sleep", lambda seconds: None)


@pytest.fixture
def keep_test_connection():
    """Requests go through the real WSGI handler, whose request_started / request_finished
    close "obsolete" connections: on PostgreSQL that would close the test's transaction
    (Django's own test client disconnects the same receiver)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def real_ids(inst) -> dict[str, str]:
    """Fresh rows of the institution for path parameters (an operation may end or delete them)."""
    session = make_session(inst, trust_score=72.0, started_at=timezone.now() - timedelta(minutes=20))
    make_flag(session, "FACE_ABSENCE", evidence=make_evidence(session))
    make_flag(session, "TAB_NOT_FOCUS")
    make_event(session, seq=1)
    make_session(inst, status="completed", ended_at=timezone.now(), trust_score=40.0)
    endpoint, _ = webhook_endpoint_create(institution=inst, url="https://hooks.example.com/proctorme")
    delivery = WebhookDelivery.objects.create(
        institution=inst, endpoint=endpoint, event="ping", payload={"event": "ping"}
    )
    from sessions.lti.registrations import lti_registration_create

    registration = lti_registration_create(
        institution=inst,
        name="LMS",
        issuer=f"https://lms-{uuid.uuid4().hex[:8]}.example.edu",
        client_id="tool",
        deployment_ids=["1"],
        auth_login_url="https://lms.example.edu/auth",
        auth_token_url="https://lms.example.edu/token",
        key_set_url="https://lms.example.edu/jwks",
    )
    from sessions.accommodations import accommodation_set

    accommodation = accommodation_set(candidate=session.candidate, extra_seconds=300, note="schema")
    return {
        "accommodation_id": str(accommodation.public_id),
        "registration_id": str(registration.public_id),
        "session_id": str(session.public_id),
        "assessment_id": str(session.assessment.public_id),
        "candidate_id": str(session.candidate.public_id),
        "endpoint_id": str(endpoint.public_id),
        "delivery_id": str(delivery.public_id),
    }


def test_every_operation_conforms_to_the_schema_and_never_errors(tenant_a, no_network, keep_test_connection):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    headers = {"Authorization": f"Bearer {tenant_a.secret_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        strategies = [operation.as_strategy(mode, headers=headers) for mode in GenerationMode]
        if operation.path_parameters:
            ids = real_ids(tenant_a.institution)
            fixed = {p.name: ids[p.name] for p in operation.path_parameters}
            strategies += [
                operation.as_strategy(mode, headers=headers, path_parameters=fixed) for mode in GenerationMode
            ]

        @given(case=st.one_of(strategies))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            case.call_and_validate(checks=CHECKS)

        run()
