"""Reads of the integrator API. Every function takes the caller's institution
(or an object already fetched within it) and filters by it in the query."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from sessions.api.exceptions import NotFound
from sessions.config import autoproctor_attempt_key
from sessions.media import media_signed_url
from sessions.models import Assessment, Candidate, Event, Flag, MediaChunk, ProctoringSession
from sessions.scorecard import (
    RISK_BANDS,
    band_q,
    breakdown_rows,
    risk_band,
    score_accommodation,
    with_flag_count,
)
from tenants.models import Institution, WebhookDelivery, WebhookEndpoint


def evidence_url(*, chunk: MediaChunk) -> str:
    return media_signed_url(chunk, ttl_seconds=settings.PROCTORME_EVIDENCE_URL_TTL)


def _uuid(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound() from None


def _get(queryset: QuerySet, public_id):
    # "Missing" and "another institution's" are the same answer.
    found = queryset.filter(public_id=_uuid(public_id)).first()
    if found is None:
        raise NotFound()
    return found


# --- assessments and candidates ---------------------------------------------------------------------


def assessment_list(*, institution: Institution, include_archived: bool = False) -> QuerySet[Assessment]:
    queryset = Assessment.objects.filter(institution=institution)
    return queryset if include_archived else queryset.filter(archived_at=None)


def assessment_get(*, institution: Institution, public_id) -> Assessment:
    return _get(Assessment.objects.filter(institution=institution), public_id)


def candidate_list(*, institution: Institution, email: str | None = None) -> QuerySet[Candidate]:
    queryset = Candidate.objects.filter(institution=institution)
    return queryset.filter(email__iexact=email) if email else queryset


def candidate_get(*, institution: Institution, public_id) -> Candidate:
    return _get(Candidate.objects.filter(institution=institution), public_id)


def accommodation_list(*, institution: Institution, candidate: Candidate | None = None) -> QuerySet:
    from sessions.models import Accommodation

    queryset = Accommodation.objects.filter(institution=institution).select_related("candidate", "assessment")
    return queryset.filter(candidate=candidate) if candidate is not None else queryset


def accommodation_get(*, institution: Institution, public_id):
    return _get(accommodation_list(institution=institution), public_id)


# --- sessions -------------------------------------------------------------------------------------


def _sessions(institution: Institution) -> QuerySet[ProctoringSession]:
    return with_flag_count(ProctoringSession.objects.filter(institution=institution)).select_related(
        "assessment", "candidate"
    )


def session_list(
    *,
    institution: Institution,
    assessment: Assessment | None = None,
    candidate: Candidate | None = None,
    status: str | None = None,
    risk: str | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    flag_type: str | None = None,
    test_attempt_id: str | None = None,
    assessment_external_id: str | None = None,
    candidate_external_id: str | None = None,
) -> QuerySet[ProctoringSession]:
    """Sessions of the institution; the integrator's own ids (AutoProctor's
    testAttemptId, Eye's assessmentId and candidateId) find them too."""
    queryset = _sessions(institution)
    if test_attempt_id is not None:
        queryset = queryset.filter(
            dialect=ProctoringSession.Dialect.AUTOPROCTOR, attempt_id=autoproctor_attempt_key(test_attempt_id)
        )
    if assessment_external_id is not None:
        queryset = queryset.filter(assessment__external_id=assessment_external_id)
    if candidate_external_id is not None:
        queryset = queryset.filter(candidate__external_id=candidate_external_id)
    if assessment is not None:
        queryset = queryset.filter(assessment=assessment)
    if candidate is not None:
        queryset = queryset.filter(candidate=candidate)
    if status:
        queryset = queryset.filter(status=status)
    if risk in RISK_BANDS:
        queryset = queryset.filter(band_q(risk))
    if started_after is not None:
        queryset = queryset.filter(started_at__gte=started_after)
    if started_before is not None:
        queryset = queryset.filter(started_at__lt=started_before)
    if flag_type:
        flagged = Flag.objects.filter(session=OuterRef("pk"), type=flag_type, dismissed_at=None)
        queryset = queryset.filter(Exists(flagged))
    return queryset


def session_get(*, institution: Institution, public_id) -> ProctoringSession:
    return _get(_sessions(institution), public_id)


def session_flags(*, session: ProctoringSession) -> QuerySet[Flag]:
    return Flag.objects.filter(institution_id=session.institution_id, session=session).select_related(
        "evidence"
    )


def session_browser_events(*, session: ProctoringSession) -> QuerySet[Event]:
    return Event.objects.filter(
        institution_id=session.institution_id, session=session, source=Event.Source.BROWSER
    )


def session_report(*, session: ProctoringSession) -> dict:
    ttl = settings.PROCTORME_EVIDENCE_URL_TTL
    flags = session_flags(session=session).exclude(evidence=None).order_by("started_at", "pk")
    evidence = [
        {
            "flagId": flag.public_id,
            "type": flag.type,
            "startedAt": flag.started_at,
            "contentType": flag.evidence.content_type,
            "mediaUrl": evidence_url(chunk=flag.evidence),
            "dismissed": flag.dismissed_at is not None,
        }
        for flag in flags
    ]
    return {
        "sessionId": session.public_id,
        "status": session.status,
        "scoreFinal": session.score_final,
        "trustScore": session.trust_score,
        "riskBand": risk_band(session.trust_score),
        "breakdown": breakdown_rows(session.trust_breakdown),
        "accommodation": score_accommodation(session),
        "verdict": session.verdict,
        "verdictNotes": session.verdict_notes,
        "reviewedScore": session.reviewed_score,
        "evidence": evidence,
        "evidenceExpiresAt": timezone.now() + timedelta(seconds=ttl),
    }


# --- webhooks -------------------------------------------------------------------------------------


def webhook_endpoint_list(*, institution: Institution) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(institution=institution)


def webhook_endpoint_get(*, institution: Institution, public_id) -> WebhookEndpoint:
    return _get(WebhookEndpoint.objects.filter(institution=institution), public_id)


def webhook_delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(
        institution_id=endpoint.institution_id, endpoint=endpoint
    ).prefetch_related("attempts")


def webhook_delivery_get(*, endpoint: WebhookEndpoint, public_id) -> WebhookDelivery:
    return _get(webhook_delivery_list(endpoint=endpoint), public_id)


# --- usage ----------------------------------------------------------------------------------------


def usage_by_day(*, institution: Institution, first: date, last: date) -> list[dict]:
    """Candidate-hours per UTC day from first to last (inclusive): each session counts from
    its start to its end (or now, while it runs), split at midnight."""
    utc = UTC
    start = datetime.combine(first, time.min, tzinfo=utc)
    stop = datetime.combine(last + timedelta(days=1), time.min, tzinfo=utc)
    now = timezone.now()
    seconds = {first + timedelta(days=n): 0.0 for n in range((last - first).days + 1)}
    started = dict.fromkeys(seconds, 0)
    spans = (
        ProctoringSession.objects.filter(institution=institution, started_at__lt=stop)
        .filter(Q(ended_at=None) | Q(ended_at__gt=start))
        .values_list("started_at", "ended_at")
    )
    for began, ended in spans.iterator():
        if start <= began < stop:
            started[began.astimezone(utc).date()] += 1
        cursor = max(began, start)
        end = min(ended or now, stop)
        while cursor < end:
            day = cursor.astimezone(utc).date()
            midnight = datetime.combine(day + timedelta(days=1), time.min, tzinfo=utc)
            piece_end = min(end, midnight)
            seconds[day] += (piece_end - cursor).total_seconds()
            cursor = piece_end
    return [
        {"date": day, "candidateHours": round(seconds[day] / 3600, 4), "sessionsStarted": started[day]}
        for day in seconds
    ]
