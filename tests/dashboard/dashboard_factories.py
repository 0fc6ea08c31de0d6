"""Sessions, flags and media rows for dashboard tests, written straight to the database."""

from __future__ import annotations

import io
import itertools
import wave
from datetime import timedelta

import numpy as np
from django.core.files.base import ContentFile
from django.utils import timezone

_counter = itertools.count(1)


def jpeg(colour: tuple[int, int, int] = (120, 130, 140), size: tuple[int, int] = (64, 48)) -> bytes:
    import cv2

    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[:] = colour
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def wav(seconds: float = 1.0, freq: float = 440.0) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    pcm = (np.sin(2 * np.pi * freq * t) * 8000).astype("<i2").tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm)
    return out.getvalue()


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
    from sessions.models import Assessment, Candidate, ProctoringSession

    n = next(_counter)
    a, _ = Assessment.objects.get_or_create(
        institution=institution, external_id=assessment, defaults={"title": title}
    )
    c = Candidate.objects.create(
        institution=institution,
        external_id=f"cand-{n}",
        first_name=first,
        last_name=last,
        email=email if email is not None else f"{first}.{last}.{n}@students.test".lower(),
    )
    started = timezone.now() - started_ago
    session = ProctoringSession.objects.create(
        institution=institution,
        assessment=a,
        candidate=c,
        attempt_id=f"eye:{assessment}:cand-{n}",
        status=status,
        deadline_at=started + timedelta(hours=2),
        trust_score=score,
        score_final=status == "completed",
        trust_breakdown={"score": score, "band": "low", "types": {}} if score is not None else {},
        verdict=verdict,
    )
    ended = started + length if status != "active" else None
    ProctoringSession.objects.filter(pk=session.pk).update(started_at=started, ended_at=ended)
    session.refresh_from_db()
    return session


def make_media(
    session, *, kind: str = "frame", seq: int = 1, at_seconds: float = 0.0, data: bytes | None = None
):
    from sessions.models import MediaChunk

    is_audio = kind == "evidence" and data is not None and data[:4] == b"RIFF"
    data = data if data is not None else jpeg()
    chunk = MediaChunk(
        institution_id=session.institution_id,
        session=session,
        kind=kind,
        seq=seq,
        captured_at=session.started_at + timedelta(seconds=at_seconds),
        content_type="audio/wav" if is_audio else "image/jpeg",
        size=len(data),
        duration_seconds=1.0 if is_audio else 0.0,
        meta={"obs": {"faces": 1}} if kind in ("frame", "snapshot") else {},
    )
    chunk.file.save(
        f"test/{session.public_id}/{kind}-{seq}.{'wav' if is_audio else 'jpg'}", ContentFile(data), save=False
    )
    chunk.save()
    return chunk


def make_flag(
    session, *, type: str = "FACE_ABSENCE", at_seconds: float = 30.0, seconds: float = 8.0, evidence=None
):
    from sessions.models import Flag

    start = session.started_at + timedelta(seconds=at_seconds)
    return Flag.objects.create(
        institution_id=session.institution_id,
        session=session,
        type=type,
        description=f"{type} for the test",
        started_at=start,
        ended_at=start + timedelta(seconds=seconds),
        duration_seconds=seconds,
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
