"""Rows for the integrator API tests, built directly with the ORM."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.test import APIClient

from sessions.models import Assessment, Candidate, Event, Flag, MediaChunk, ProctoringSession

_counter = itertools.count(1)


def client_for(key: str | None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def make_assessment(institution, **fields) -> Assessment:
    n = next(_counter)
    defaults = {"external_id": f"exam-{n}", "title": f"Exam {n}", "duration_seconds": 3600}
    return Assessment.objects.create(institution=institution, **(defaults | fields))


def make_candidate(institution, **fields) -> Candidate:
    n = next(_counter)
    defaults = {
        "external_id": f"cand-{n}",
        "email": f"c{n}@example.edu",
        "first_name": "Ada",
        "last_name": f"L{n}",
    }
    return Candidate.objects.create(institution=institution, **(defaults | fields))


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
    session = ProctoringSession.objects.create(
        institution=institution,
        assessment=assessment,
        candidate=candidate,
        attempt_id=f"{assessment.external_id}:{candidate.external_id}:{next(_counter)}",
        origin="https://exams.alpha.edu",
        status=status
        or (ProctoringSession.Status.COMPLETED if ended_at else ProctoringSession.Status.ACTIVE),
        ended_at=ended_at,
        trust_score=trust_score,
        **fields,
    )
    if started_at is not None:  # auto_now_add: set it afterwards
        ProctoringSession.objects.filter(pk=session.pk).update(started_at=started_at)
        session.refresh_from_db()
    return session


def make_flag(session, type: str = "FACE_ABSENCE", *, evidence=None, started_at=None, **fields) -> Flag:
    started_at = started_at or timezone.now()
    return Flag.objects.create(
        institution_id=session.institution_id,
        session=session,
        type=type,
        description=fields.pop("description", f"{type} seen"),
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=5),
        duration_seconds=5.0,
        episode_key=f"ep-{next(_counter)}",
        evidence=evidence,
        **fields,
    )


def make_evidence(session, content: bytes = b"\xff\xd8\xff\xe0jpeg") -> MediaChunk:
    chunk = MediaChunk(
        institution_id=session.institution_id,
        session=session,
        kind=MediaChunk.Kind.EVIDENCE,
        seq=next(_counter),
        captured_at=timezone.now(),
        content_type="image/jpeg",
        size=len(content),
    )
    chunk.file.save(f"evidence-{chunk.seq}.jpg", ContentFile(content), save=False)
    chunk.save()
    return chunk


def make_event(
    session, type: str = "TAB_FOCUS_CHANGE", *, source=Event.Source.BROWSER, seq=None, **fields
) -> Event:
    return Event.objects.create(
        institution_id=session.institution_id,
        session=session,
        type=type,
        source=source,
        client_seq=seq,
        started_at=fields.pop("started_at", timezone.now()),
        payload=fields.pop("payload", {"focused": False}),
        **fields,
    )


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]
