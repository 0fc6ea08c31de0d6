"""Shortcuts of the integrator API tests, built on tests.factories (factory_boy)."""

from __future__ import annotations

import itertools
from datetime import datetime

from django.utils import timezone
from rest_framework.test import APIClient

from sessions.models import Assessment, Candidate, Event, Flag, MediaChunk, ProctoringSession
from tests.factories import (
    AssessmentFactory,
    CandidateFactory,
    EventFactory,
    FlagFactory,
    MediaFactory,
    SessionFactory,
)

_counter = itertools.count(1)


def client_for(key: str | None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def make_assessment(institution, **fields) -> Assessment:
    return AssessmentFactory(institution=institution, **fields)


def make_candidate(institution, **fields) -> Candidate:
    return CandidateFactory(institution=institution, **fields)


def make_session(
    institution,
    *,
    assessment=None,
    candidate=None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    status: str | None = None,
    trust_score: float | None = None,
    **fields,
) -> ProctoringSession:
    assessment = assessment or make_assessment(institution)
    candidate = candidate or make_candidate(institution)
    extra = {"status": status} if status else {}
    return SessionFactory(
        institution=institution,
        assessment=assessment,
        candidate=candidate,
        attempt_id=f"{assessment.external_id}:{candidate.external_id}:{next(_counter)}",
        ended_at=ended_at,
        trust_score=trust_score,
        started_at=started_at,
        **extra,
        **fields,
    )


def make_flag(session, type: str = "FACE_ABSENCE", *, evidence=None, started_at=None, **fields) -> Flag:
    return FlagFactory(
        session=session,
        type=type,
        description=fields.pop("description", f"{type} seen"),
        started_at=started_at or timezone.now(),
        seconds=5.0,
        episode_key=f"ep-{next(_counter)}",
        evidence=evidence,
        **fields,
    )


def make_evidence(session, content: bytes = b"\xff\xd8\xff\xe0jpeg") -> MediaChunk:
    return MediaFactory(
        session=session,
        kind=MediaChunk.Kind.EVIDENCE,
        seq=next(_counter),
        captured_at=timezone.now(),
        data=content,
        content_type="image/jpeg",
    )


def make_event(
    session, type: str = "TAB_FOCUS_CHANGE", *, source=Event.Source.BROWSER, seq=None, **fields
) -> Event:
    return EventFactory(session=session, type=type, source=source, client_seq=seq, **fields)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]
