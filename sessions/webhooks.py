"""Signed webhooks of the session events: signing and verification, the target-URL check, delivery with retries.

Wire format of every delivery (a ``POST`` with a JSON body)::

    Proctorme-Event: flag.created
    Proctorme-Delivery: 6f1c…            (idempotency id: the same on every retry of one delivery)
    Proctorme-Signature: t=1732363200,v1=5257a8…

``v1`` is the lowercase hex HMAC-SHA256 of ``f"{t}.{body}"`` keyed with the
endpoint's own secret (``whsec_…``). Receivers recompute it over the raw body,
compare in constant time and refuse a ``t`` older than a tolerance window
(five minutes by default), so a captured request cannot be replayed later.
:func:`webhook_signature_verify` does exactly that and has no Django
dependency, so integrators may copy it as it is.

Target URLs are checked when an endpoint is created or changed and again at
every attempt (the name may have been re-pointed since: DNS rebinding). A URL
whose host resolves to a private, loopback, link-local, reserved or otherwise
non-global address is refused unless ``PROCTORME_ALLOW_PRIVATE_URLS`` is on,
and the request is sent to the very address that was checked, without
following redirects, within one total deadline (proctorme.outbound).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from proctorme.outbound import OutboundError, outbound_request
from proctorme.tasks import enqueue
from proctorme.times import iso
from sessions.scorecard import breakdown_rows, flag_count, risk_band, score_accommodation
from tenants.models import Membership, WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

EVENTS = ("flag.created", "session.started", "session.completed")
PING = "ping"
SIGNATURE_HEADER = "Proctorme-Signature"
DELIVERY_HEADER = "Proctorme-Delivery"
EVENT_HEADER = "Proctorme-Event"
DEFAULT_TOLERANCE_SECONDS = 300
USER_AGENT = "Proctorme-Webhooks/1"

# Seams for tests: name resolution, the HTTP request and the pause between
# attempts in TASKS_MODE=sync (tests record the delays instead of sleeping).
_sleep = time.sleep


class WebhookVerificationError(ValueError):
    """A delivery's signature header is missing, malformed, stale or does not match."""


# --- signing ---------------------------------------------------------------------------------------


def webhook_sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The ``Proctorme-Signature`` header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_signature_verify(
    *,
    body: bytes,
    header: str | None,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a delivery; return its timestamp or raise WebhookVerificationError.

    ``body`` must be the raw request body exactly as received (not re-serialised
    JSON). Several ``v1`` entries are accepted, so a sender may sign with an old
    and a new secret while they are being rotated.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookVerificationError("malformed signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("timestamp outside the tolerance window")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookVerificationError("signature does not match")
    return timestamp


def _post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    """POST through the hardened fetcher; return (status, body excerpt)."""
    response = outbound_request(
        method="POST", url=url, body=body, headers=headers, timeout=timeout, max_bytes=500, truncate=True
    )
    return response.status, response.body.decode("utf-8", "replace")


# --- deliveries -----------------------------------------------------------------------------------


def _subscribed(endpoint: WebhookEndpoint, event: str) -> bool:
    return not endpoint.events or event in endpoint.events


@transaction.atomic
def webhook_event_emit(*, institution_id: int, event: str, payload: dict) -> list[WebhookDelivery]:
    """Queue one delivery of ``event`` per active endpoint of the institution that wants it."""
    deliveries = []
    for endpoint in WebhookEndpoint.objects.filter(institution_id=institution_id, is_active=True):
        if not _subscribed(endpoint, event):
            continue
        delivery = WebhookDelivery.objects.create(
            institution_id=institution_id, endpoint=endpoint, event=event, payload=payload
        )
        _enqueue(delivery, manual=False)
        deliveries.append(delivery)
    return deliveries


@transaction.atomic
def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A test delivery, sent once (even to a disabled endpoint, to check it before re-enabling)."""
    delivery = WebhookDelivery.objects.create(
        institution_id=endpoint.institution_id,
        endpoint=endpoint,
        event=PING,
        payload={"event": PING, "endpointId": str(endpoint.public_id), "createdAt": iso(timezone.now())},
    )
    _enqueue(delivery, manual=True)
    return delivery


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again, once, with the same idempotency id."""
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    _enqueue(delivery, manual=True)
    return delivery


def _enqueue(delivery: WebhookDelivery, *, manual: bool) -> None:
    from sessions.tasks import webhook_deliver_task

    enqueue(webhook_deliver_task, str(delivery.public_id), manual=manual)


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): base · 2^(n-1), capped."""
    return float(
        min(settings.PROCTORME_WEBHOOK_RETRY_BASE * 2 ** (attempt - 1), settings.PROCTORME_WEBHOOK_RETRY_MAX)
    )


EYE_FLAG_FIELDS = ("flagId", "candidateId", "examId", "type", "mediaUrl", "description", "createdAt")


def _render_body(delivery: WebhookDelivery) -> bytes:
    payload = dict(delivery.payload)
    if delivery.event == "flag.created":
        # A signed media URL is short-lived: mint a fresh one for every attempt.
        payload["mediaUrl"] = _flag_media_url(payload.get("flagId"))
        if delivery.endpoint.body_format == WebhookEndpoint.BodyFormat.EYE:
            payload = _eye_flag_body(payload)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _eye_flag_body(payload: dict) -> dict:
    """Eye by Proctorme's flag webhook: receivers test ``event == "Flag"`` and read
    ``domain`` as the page's origin (``https://exams.example.edu``)."""
    return {
        "event": "Flag",
        **{name: payload.get(name) for name in EYE_FLAG_FIELDS},
        "domain": payload.get("origin") or payload.get("domain") or "",
    }


def webhook_deliver(*, delivery_id: str, manual: bool = False) -> WebhookDelivery | None:
    """Attempt a pending delivery; on failure retry with exponential backoff.

    Automatic deliveries get ``PROCTORME_WEBHOOK_MAX_ATTEMPTS`` attempts; when
    all fail, the endpoint's consecutive-failure count goes up and at
    ``PROCTORME_WEBHOOK_DISABLE_AFTER`` it is disabled and its admins told.
    Manual sends (ping, redeliver) make one attempt and count towards nothing.
    """
    due_check = not manual
    while True:
        delivery = WebhookDelivery.objects.select_related("endpoint").filter(public_id=delivery_id).first()
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return delivery
        if not _claim(delivery, due_check=due_check):
            # Another run (a timer, a countdown, the sweep) has it, or its retry is not due yet.
            return delivery
        if not manual and not delivery.endpoint.is_active:
            # Disabled (by an admin, or for failing) while this retry waited: stop here.
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.last_error = "endpoint disabled"
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
            return delivery
        done = _attempt(delivery, manual=manual)
        if done:
            return delivery
        delay = retry_delay(delivery.attempt_count)
        if settings.TASKS_MODE != "sync":
            _schedule_retry(delivery_id, delay)
            return delivery
        _sleep(delay)
        due_check = False  # slept until the retry (recorded instead of slept in tests)


# A claimed attempt holds its delivery this long past the request's own timeout; if
# the process dies meanwhile, the sweep takes the delivery up after that.
CLAIM_MARGIN_SECONDS = 60
# The sweep leaves a due retry this long to its timer or countdown before sending it itself.
SWEEP_GRACE_SECONDS = 30
# A countdown may fire this early by another machine's clock.
CLOCK_SKEW_SECONDS = 2


def _claim(delivery: WebhookDelivery, *, due_check: bool) -> bool:
    """Take the delivery for one attempt (atomically, so two runs never both send it).

    The claim moves ``next_attempt_at`` past the attempt's timeout: a run that dies
    mid-request leaves a delivery that the sweep finds due again later.
    """
    now = timezone.now()
    pending = WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING)
    if due_check:
        pending = pending.filter(
            Q(next_attempt_at__isnull=True)
            | Q(next_attempt_at__lte=now + timedelta(seconds=CLOCK_SKEW_SECONDS))
        )
    lease = now + timedelta(seconds=settings.PROCTORME_WEBHOOK_TIMEOUT + CLAIM_MARGIN_SECONDS)
    return pending.update(next_attempt_at=lease) == 1


def webhooks_deliver_due() -> int:
    """The safety net behind retry timers: send every pending delivery that is overdue.

    Retries wait on a Celery countdown or, in the embedded mode, an in-memory
    timer; a restart loses those. The stored ``next_attempt_at`` does not, so this
    sweep (on the beat schedule, and in the embedded scheduler every minute) sends
    whatever is overdue by more than ``SWEEP_GRACE_SECONDS``. Returns how many it queued.
    """
    cutoff = timezone.now() - timedelta(seconds=SWEEP_GRACE_SECONDS)
    overdue = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).filter(
        Q(next_attempt_at__lte=cutoff) | Q(next_attempt_at__isnull=True, created_at__lte=cutoff)
    )
    ids = [str(public_id) for public_id in overdue.values_list("public_id", flat=True)[:1000]]
    for delivery_id in ids:
        from sessions.tasks import webhook_deliver_task

        enqueue(webhook_deliver_task, delivery_id)
    return len(ids)


def _schedule_retry(delivery_id: str, delay: float) -> None:
    from sessions.tasks import webhook_deliver_task

    if settings.TASKS_MODE == "celery":
        webhook_deliver_task.apply_async(args=[delivery_id], countdown=delay)
    else:  # thread: wait without holding one of the few pool workers
        timer = threading.Timer(delay, enqueue, args=(webhook_deliver_task, delivery_id))
        timer.daemon = True
        timer.start()


def _attempt(delivery: WebhookDelivery, *, manual: bool) -> bool:
    """One HTTP request; returns True when the delivery is settled (succeeded or given up)."""
    endpoint = delivery.endpoint
    number = delivery.attempt_count + 1
    body = _render_body(delivery)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.public_id),
        SIGNATURE_HEADER: webhook_sign(secret=endpoint.secret, body=body, timestamp=timestamp),
    }
    requested_at = timezone.now()
    started = time.monotonic()
    status_code: int | None = None
    excerpt = error = ""
    try:
        status_code, excerpt = _post(
            url=endpoint.url, body=body, headers=headers, timeout=settings.PROCTORME_WEBHOOK_TIMEOUT
        )
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except OutboundError as exc:
        error = exc.message
    elapsed_ms = int((time.monotonic() - started) * 1000)
    succeeded = not error
    max_attempts = 1 if manual else settings.PROCTORME_WEBHOOK_MAX_ATTEMPTS
    settled = succeeded or number >= max_attempts
    log.info(
        "webhook %s %s attempt %d → %s in %d ms",
        delivery.event,
        delivery.public_id,
        number,
        status_code or error,
        elapsed_ms,
    )
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            requested_at=requested_at,
            status_code=status_code,
            response_ms=elapsed_ms,
            succeeded=succeeded,
            error=error[:300],
            response_excerpt=excerpt[:500],
        )
        delivery.attempt_count = number
        delivery.last_status_code = status_code
        delivery.last_error = error[:300]
        if succeeded:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
        elif settled:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=retry_delay(number))
        delivery.save()
        if not manual and succeeded:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        elif not manual and settled:
            _endpoint_delivery_failed(endpoint)
    return settled


def _endpoint_delivery_failed(endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    endpoint.refresh_from_db(fields=["consecutive_failures", "is_active"])
    limit = settings.PROCTORME_WEBHOOK_DISABLE_AFTER
    if endpoint.consecutive_failures < limit:
        return
    reason = f"{endpoint.consecutive_failures} deliveries in a row failed"
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason=reason
    )
    if disabled:
        log.warning("webhook endpoint %s disabled: %s", endpoint.public_id, reason)
        transaction.on_commit(lambda: _notify_disabled(endpoint.pk, reason))


def _notify_disabled(endpoint_pk: int, reason: str) -> None:
    endpoint = WebhookEndpoint.objects.select_related("institution").get(pk=endpoint_pk)
    recipients = list(
        Membership.objects.filter(institution=endpoint.institution, role=Membership.Role.ADMIN)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not recipients:
        return
    try:
        send_mail(
            subject=f"[Proctorme] Webhook endpoint disabled: {endpoint.url}",
            message=(
                f"The webhook endpoint {endpoint.url} of {endpoint.institution.name} has been disabled "
                f"because {reason}.\n\nFix the receiver, send it a test ping, then re-enable it "
                f"(PATCH /api/v1/webhooks/{endpoint.public_id} with isActive=true). Failed deliveries "
                "can be sent again from the delivery log.\n"
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        log.exception("could not e-mail the admins of %s about a disabled endpoint", endpoint.institution_id)


# --- event payloads (signal receivers) -------------------------------------------------------------


def _flag_media_url(flag_public_id: str | None) -> str | None:
    if not flag_public_id:
        return None
    from sessions.api.selectors import evidence_url
    from sessions.models import Flag

    flag = Flag.objects.select_related("evidence").filter(public_id=flag_public_id).first()
    return evidence_url(chunk=flag.evidence) if flag and flag.evidence else None


def _origin_domain(origin: str) -> str:
    try:
        return urlsplit(origin).netloc if origin else ""
    except ValueError:
        return ""


def flag_created_payload(*, flag) -> dict:
    """Eye by Proctorme's webhook fields, plus the session they belong to."""
    session = flag.session
    return {
        "event": "flag.created",
        "flagId": str(flag.public_id),
        "candidateId": session.candidate.external_id,
        "examId": session.assessment.external_id,
        "type": flag.type,
        "mediaUrl": None,  # minted per attempt
        "domain": _origin_domain(session.origin),
        "origin": session.origin,
        "description": flag.description,
        "createdAt": iso(flag.created_at or flag.started_at),
        "startedAt": iso(flag.started_at),
        "endedAt": iso(flag.ended_at),
        "durationSeconds": round(flag.duration_seconds, 3),
        "sessionId": str(session.public_id),
        "attemptId": session.attempt_id,
    }


def _session_fields(session) -> dict:
    return {
        "sessionId": str(session.public_id),
        "attemptId": session.attempt_id,
        "candidateId": session.candidate.external_id,
        "examId": session.assessment.external_id,
        "domain": _origin_domain(session.origin),
        "startedAt": iso(session.started_at),
    }


def session_started_payload(*, session) -> dict:
    return {"event": "session.started", **_session_fields(session), "deadlineAt": iso(session.deadline_at)}


def session_completed_payload(*, session) -> dict:
    return {
        "event": "session.completed",
        **_session_fields(session),
        "endedAt": iso(session.ended_at),
        "endReason": session.end_reason,
        "trustScore": session.trust_score,
        "riskBand": risk_band(session.trust_score),
        "breakdown": breakdown_rows(session.trust_breakdown),
        "accommodation": score_accommodation(session),
        "flagCount": flag_count(session),
    }


# While a batch of signals commits (sessions.services.signals_record): whether each institution
# has an active endpoint, looked up once for the batch's flags rather than once per flag.
_endpoints_known: ContextVar[dict[int, bool] | None] = ContextVar("_endpoints_known", default=None)


@contextmanager
def endpoints_memo():
    """Within the block, each institution's endpoints are looked up at most once."""
    token = _endpoints_known.set({})
    try:
        yield
    finally:
        _endpoints_known.reset(token)


def endpoints_known(found: dict[int, bool]) -> None:
    """Within an ``endpoints_memo`` block: whether these institutions have an active endpoint,
    already read by the caller (the signal batch reads it with its other statements)."""
    known = _endpoints_known.get()
    if known is not None:
        known.update(found)


def _has_endpoints(institution_id: int) -> bool:
    known = _endpoints_known.get()
    if known is not None and institution_id in known:
        return known[institution_id]
    found = WebhookEndpoint.objects.filter(institution_id=institution_id, is_active=True).exists()
    if known is not None:
        known[institution_id] = found
    return found


def _emit_safely(institution_id: int, event: str, build) -> None:
    # Receivers run in the sender's thread after its commit: never let a
    # webhook problem break a session, and do no work for institutions
    # without endpoints.
    try:
        if not _has_endpoints(institution_id):
            return
        webhook_event_emit(institution_id=institution_id, event=event, payload=build())
    except Exception:
        log.exception("could not queue %s webhooks for institution %s", event, institution_id)


def on_flag_created(sender, flag, **kwargs) -> None:
    _emit_safely(flag.institution_id, "flag.created", lambda: flag_created_payload(flag=flag))


def on_session_started(sender, session, resumed: bool = False, **kwargs) -> None:
    if resumed:
        return
    _emit_safely(session.institution_id, "session.started", lambda: session_started_payload(session=session))


def on_session_completed(sender, session, **kwargs) -> None:
    _emit_safely(
        session.institution_id, "session.completed", lambda: session_completed_payload(session=session)
    )
