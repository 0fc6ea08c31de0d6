"""Signed webhook deliveries to a real receiver on 127.0.0.1: signature, retries, log, disabling."""

from __future__ import annotations

import json
import time

import pytest
from django.core import mail
from django.utils import timezone

from proctorme import outbound
from sessions import signals, webhooks
from sessions.models import ProctoringSession
from sessions.webhooks import (
    WebhookVerificationError,
    webhook_sign,
    webhook_signature_verify,
)
from tenants.models import WebhookDelivery, WebhookEndpoint
from tenants.services import WebhookUrlNotAllowed, webhook_endpoint_create
from tests.api.api_factories import make_evidence, make_flag, make_session

EYE_FIELDS = {
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


def _verify(request, secret):
    return webhook_signature_verify(
        body=request.body, header=request.headers["Proctorme-Signature"], secret=secret
    )


def test_a_new_flag_is_delivered_signed_with_eye_fields(tenant_a, endpoint, receiver, run_on_commit, sleeps):
    from sessions.services import flag_record

    session = make_session(tenant_a.institution)
    evidence = make_evidence(session)
    with run_on_commit():
        flag, created = flag_record(
            session=session,
            type="FACE_ABSENCE",
            episode_key="face-1",
            started_at=timezone.now(),
            description="No face for 6 s",
            evidence=evidence,
        )
    assert created
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    _verify(request, endpoint.plain_secret)
    assert request.path == "/hooks/proctorme"
    assert request.headers["Proctorme-Event"] == "flag.created"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert set(body) >= EYE_FIELDS
    assert body["event"] == "flag.created"
    assert body["flagId"] == str(flag.public_id)
    assert body["candidateId"] == session.candidate.external_id
    assert body["examId"] == session.assessment.external_id
    assert body["type"] == "FACE_ABSENCE"
    assert body["description"] == "No face for 6 s"
    assert body["domain"] == "exams.alpha.edu"
    assert body["mediaUrl"].startswith("http") and "/media" in body["mediaUrl"]
    delivery = WebhookDelivery.objects.get()
    assert request.headers["Proctorme-Delivery"] == str(delivery.public_id)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert sleeps == []


def test_receiver_failing_twice_gets_the_third_attempt_and_the_log_shows_all_three(
    tenant_a, endpoint, receiver, run_on_commit, sleeps
):
    receiver.statuses = [500, 503]
    session = make_session(tenant_a.institution)
    flag = make_flag(session, "MULTIPLE_FACE")
    with run_on_commit():
        signals.flag_created.send(sender=ProctoringSession, flag=flag)

    assert len(receiver.requests) == 3
    delivery_ids = {request.headers["Proctorme-Delivery"] for request in receiver.requests}
    assert len(delivery_ids) == 1  # one idempotency id across the retries
    for request in receiver.requests:
        _verify(request, endpoint.plain_secret)
    assert sleeps == [5.0, 10.0]  # exponential backoff (base 5 s), recorded instead of slept

    delivery = WebhookDelivery.objects.get()
    assert str(delivery.public_id) in delivery_ids
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempt_count == 3
    attempts = list(delivery.attempts.order_by("number"))
    assert [a.number for a in attempts] == [1, 2, 3]
    assert [a.status_code for a in attempts] == [500, 503, 200]
    assert [a.succeeded for a in attempts] == [False, False, True]
    assert all(a.response_ms >= 0 and a.requested_at for a in attempts)
    assert attempts[0].error == "HTTP 500"
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.is_active


def test_tampered_body_stale_timestamp_and_wrong_secret_fail_verification(
    tenant_a, endpoint, receiver, run_on_commit, sleeps
):
    session = make_session(tenant_a.institution)
    with run_on_commit():
        signals.flag_created.send(sender=ProctoringSession, flag=make_flag(session, "TAB_NOT_FOCUS"))
    request = receiver.requests[0]
    header = request.headers["Proctorme-Signature"]
    webhook_signature_verify(body=request.body, header=header, secret=endpoint.plain_secret)

    tampered = request.body.replace(b"TAB_NOT_FOCUS", b"PERIODIC_SNAPSHOT")
    with pytest.raises(WebhookVerificationError, match="does not match"):
        webhook_signature_verify(body=tampered, header=header, secret=endpoint.plain_secret)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        webhook_signature_verify(body=request.body, header=header, secret="whsec_someone-else")
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        webhook_signature_verify(
            body=request.body, header=header, secret=endpoint.plain_secret, now=time.time() + 301
        )
    with pytest.raises(WebhookVerificationError, match="malformed"):
        webhook_signature_verify(body=request.body, header="v1=abc", secret=endpoint.plain_secret)


def test_signature_scheme_is_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac

    header = webhook_sign(secret="whsec_x", body=b'{"a":1}', timestamp=1700000000)
    expected = hmac.new(b"whsec_x", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    # A rotated secret: either v1 verifies.
    both = header + ",v1=" + "0" * 64
    assert (
        webhook_signature_verify(body=b'{"a":1}', header=both, secret="whsec_x", now=1700000010) == 1700000000
    )


def test_session_started_and_completed_carry_score_and_breakdown(
    tenant_a, endpoint, receiver, run_on_commit, sleeps
):
    session = make_session(tenant_a.institution)
    with run_on_commit():
        signals.session_started.send(sender=ProctoringSession, session=session, resumed=False)
        signals.session_started.send(sender=ProctoringSession, session=session, resumed=True)
    ProctoringSession.objects.filter(pk=session.pk).update(
        status="completed",
        ended_at=timezone.now(),
        end_reason="ended",
        trust_score=72.5,
        score_final=True,
        trust_breakdown={  # as sessions.scoring.breakdown_json stores it
            "score": 72.5,
            "band": "review",
            "types": {"FACE_ABSENCE": {"count": 2, "seconds": 40.0, "deduction": 27.5}},
        },
    )
    session.refresh_from_db()
    with run_on_commit():
        signals.session_completed.send(sender=ProctoringSession, session=session)

    events = [json.loads(r.body) for r in receiver.requests]
    assert [e["event"] for e in events] == ["session.started", "session.completed"]  # a resume sends nothing
    completed = events[1]
    assert completed["sessionId"] == str(session.public_id)
    assert completed["trustScore"] == 72.5
    assert completed["riskBand"] == "review"
    assert completed["breakdown"] == [
        {"type": "FACE_ABSENCE", "count": 2, "seconds": 40.0, "deduction": 27.5}
    ]
    for request in receiver.requests:
        _verify(request, endpoint.plain_secret)


def test_endpoint_subscribed_to_some_events_gets_only_those(
    settings, tenant_a, endpoint, receiver, run_on_commit, sleeps
):
    endpoint.events = ["session.completed"]
    endpoint.save()
    session = make_session(tenant_a.institution)
    with run_on_commit():
        signals.flag_created.send(sender=ProctoringSession, flag=make_flag(session))
    assert receiver.requests == []


def test_endpoint_that_keeps_failing_is_disabled_and_admins_are_told(
    settings, tenant_a, endpoint, receiver, run_on_commit, sleeps
):
    settings.PROCTORME_WEBHOOK_MAX_ATTEMPTS = 2
    settings.PROCTORME_WEBHOOK_DISABLE_AFTER = 2
    receiver.statuses = [500] * 10
    session = make_session(tenant_a.institution)
    for kind in ("FACE_ABSENCE", "MULTIPLE_FACE"):
        with run_on_commit():
            signals.flag_created.send(sender=ProctoringSession, flag=make_flag(session, kind))

    assert len(receiver.requests) == 4  # two deliveries × two attempts
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.disabled_at is not None
    assert "2 deliveries in a row failed" in endpoint.disabled_reason
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [tenant_a.admin.email]
    assert endpoint.url in mail.outbox[0].subject

    # A disabled endpoint receives no new events.
    with run_on_commit():
        signals.flag_created.send(sender=ProctoringSession, flag=make_flag(session, "LOOKING_AWAY"))
    assert len(receiver.requests) == 4


def test_a_failed_delivery_resets_nothing_until_one_succeeds(
    settings, tenant_a, endpoint, receiver, run_on_commit, sleeps
):
    settings.PROCTORME_WEBHOOK_MAX_ATTEMPTS = 1
    receiver.statuses = [500]
    session = make_session(tenant_a.institution)
    with run_on_commit():
        signals.flag_created.send(sender=ProctoringSession, flag=make_flag(session))
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1
    with run_on_commit():
        signals.flag_created.send(sender=ProctoringSession, flag=make_flag(session))
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_backoff_doubles_and_is_capped(settings):
    settings.PROCTORME_WEBHOOK_RETRY_BASE = 1
    settings.PROCTORME_WEBHOOK_RETRY_MAX = 10
    assert [webhooks.retry_delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_celery_mode_schedules_the_retry_with_a_countdown(settings, monkeypatch):
    from sessions.tasks import webhook_deliver_task

    calls = []
    monkeypatch.setattr(webhook_deliver_task, "apply_async", lambda **kw: calls.append(kw))
    settings.TASKS_MODE = "celery"
    webhooks._schedule_retry("abc", 20.0)
    assert calls == [{"args": ["abc"], "countdown": 20.0}]


# --- target URL check -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://224.0.0.1/hook",
        "ftp://93.184.216.34/hook",
        "http://user:pw@93.184.216.34/hook",
    ],
)
def test_private_loopback_and_odd_urls_are_refused(settings, tenant_a, url):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = False
    with pytest.raises(WebhookUrlNotAllowed) as caught:
        webhook_endpoint_create(institution=tenant_a.institution, url=url)
    assert caught.value.code == "WEBHOOK_URL_NOT_ALLOWED"
    assert not WebhookEndpoint.objects.exists()


def test_public_address_is_accepted(settings, tenant_a):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = False
    endpoint, secret = webhook_endpoint_create(
        institution=tenant_a.institution, url="https://93.184.216.34/hook"
    )
    assert secret.startswith("whsec_") and endpoint.secret == secret


def test_a_name_that_resolves_to_any_private_address_is_refused(settings, tenant_a, monkeypatch):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(outbound, "_resolve", lambda host, port: ["93.184.216.34", "10.0.0.5"])
    with pytest.raises(WebhookUrlNotAllowed):
        webhook_endpoint_create(institution=tenant_a.institution, url="https://hooks.example.com/x")


def test_rebinding_to_loopback_after_creation_is_refused_at_delivery(
    settings, tenant_a, receiver, monkeypatch, run_on_commit, sleeps
):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = False
    settings.PROCTORME_WEBHOOK_MAX_ATTEMPTS = 2
    answers = {"hooks.integrator.test": ["93.184.216.34"]}
    monkeypatch.setattr(outbound, "_resolve", lambda host, port: answers[host])
    endpoint, _ = webhook_endpoint_create(
        institution=tenant_a.institution, url=receiver.url(host="hooks.integrator.test")
    )
    answers["hooks.integrator.test"] = ["127.0.0.1"]  # the name now points at the server itself
    session = make_session(tenant_a.institution)
    with run_on_commit():
        signals.flag_created.send(sender=ProctoringSession, flag=make_flag(session))
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert "private" in delivery.last_error


def test_delivery_connects_to_the_checked_address_and_keeps_the_host_name(
    settings, tenant_a, receiver, monkeypatch, run_on_commit, sleeps
):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = True
    monkeypatch.setattr(outbound, "_resolve", lambda host, port: ["127.0.0.1"])
    endpoint, secret = webhook_endpoint_create(
        institution=tenant_a.institution, url=receiver.url(host="hooks.integrator.test")
    )
    session = make_session(tenant_a.institution)
    with run_on_commit():
        signals.flag_created.send(sender=ProctoringSession, flag=make_flag(session))
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["Host"] == f"hooks.integrator.test:{receiver.port}"


def test_retries_stop_when_the_endpoint_is_disabled_meanwhile(
    settings, tenant_a, endpoint, receiver, run_on_commit, monkeypatch
):
    settings.PROCTORME_WEBHOOK_MAX_ATTEMPTS = 5
    receiver.statuses = [500] * 10

    def admin_disables_it_during_the_backoff(delay):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)

    monkeypatch.setattr("sessions.webhooks._sleep", admin_disables_it_during_the_backoff)
    session = make_session(tenant_a.institution)
    with run_on_commit():
        signals.flag_created.send(sender=ProctoringSession, flag=make_flag(session))
    assert len(receiver.requests) == 1  # the first attempt only
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.last_error == "endpoint disabled"
