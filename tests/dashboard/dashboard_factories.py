"""Shortcuts of the dashboard tests (named candidates, finished and scored sessions), built on
tests.factories (factory_boy)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from tests.factories import (
    AssessmentFactory,
    CandidateFactory,
    FlagFactory,
    MediaFactory,
    SessionFactory,
    jpeg,
    wav,
)

_counter = itertools.count(1)


def make_session(
    institution,
    *,
    first: str = "Ada",
    last: str = "Lovelace",
    email: str | None = None,
    assessment: str = "bio-101",
    title: str = "Biology",
    status: str = "completed",
    score: float | None = 100.0,
    started_ago: timedelta = timedelta(hours=1),
    length: timedelta = timedelta(minutes=10),
    verdict: str = "",
):
    """A session of a named candidate, finished and scored unless told otherwise."""
    n = next(_counter)
    started = timezone.now() - started_ago
    return SessionFactory(
        institution=institution,
        assessment=AssessmentFactory(
            institution=institution, external_id=assessment, title=title, duration_seconds=None
        ),
        candidate=CandidateFactory(
            institution=institution,
            external_id=f"cand-{n}",
            first_name=first,
            last_name=last,
            email=email if email is not None else f"{first}.{last}.{n}@students.test".lower(),
        ),
        attempt_id=f"eye:{assessment}:cand-{n}",
        status=status,
        deadline_at=started + timedelta(hours=2),
        trust_score=score,
        score_final=status == "completed",
        trust_breakdown={"score": score, "band": "low", "types": {}} if score is not None else {},
        verdict=verdict,
        started_at=started,
        ended_at=started + length if status != "active" else None,
    )


def make_media(
    session, *, kind: str = "frame", seq: int = 1, at_seconds: float = 0.0, data: bytes | None = None
):
    return MediaFactory(session=session, kind=kind, seq=seq, at_seconds=at_seconds, data=data or jpeg())


def make_flag(
    session, *, type: str = "FACE_ABSENCE", at_seconds: float = 30.0, seconds: float = 8.0, evidence=None
):
    return FlagFactory(
        session=session,
        type=type,
        at_seconds=at_seconds,
        seconds=seconds,
        episode_key=f"{type}@{at_seconds}:{next(_counter)}",
        evidence=evidence,
    )


def session_with_evidence(institution, **kwargs):
    """A finished session with frames, a FACE_ABSENCE flag on a frame and a SOUND_DETECTED clip."""
    session = make_session(institution, **kwargs)
    frames = [
        make_media(session, kind="frame", seq=i + 1, at_seconds=i * 10, data=jpeg((20 * i, 90, 160)))
        for i in range(10)
    ]
    make_media(session, kind="snapshot", seq=1, at_seconds=5)
    absence = make_flag(session, type="FACE_ABSENCE", at_seconds=40, seconds=12, evidence=frames[4])
    clip = make_media(session, kind="evidence", seq=7000, at_seconds=70, data=wav())
    sound = make_flag(session, type="SOUND_DETECTED", at_seconds=70, seconds=1.5, evidence=clip)
    return session, absence, sound, frames


def make_lti_attempt(session, registration, *, context_id: str, user_sub: str | None = None):
    """The LTI attempt that ties ``session`` to a course (``context_id``) of ``registration``'s
    platform, as a launch from that course leaves it: the course dashboards select by it."""
    from sessions.lti.models import LtiAttempt

    return LtiAttempt.objects.create(
        institution_id=registration.institution_id,
        registration=registration,
        session=session,
        deployment_id="1",
        user_sub=user_sub or f"student-{next(_counter)}",
        context_id=context_id,
        resource_link_id="quiz-42",
        attempt_number=1,
        session_data="x",
        start_assessment_url="https://lms.test/start",
        status=LtiAttempt.Status.ASSESSMENT,
    )
