"""The one way tests build rows: factory_boy factories over the real models.

Every factory takes the institution (or the session) it belongs to, so no row
is ever made for a tenant by accident:

    session = SessionFactory(institution=tenant_a.institution, status="completed")
    FlagFactory(session=session, type="TAB_NOT_FOCUS", seconds=12)
    MediaFactory(session=session, kind="snapshot")

Times are relative to the session's start (``started_ago``, ``at_seconds``),
because ``started_at`` is set by the database on insert.
"""

from __future__ import annotations

import io
import wave
from datetime import timedelta

import factory
import numpy as np
from django.core.files.base import ContentFile
from django.utils import timezone
from factory.django import DjangoModelFactory

from sessions.models import Assessment, Candidate, Event, Flag, MediaChunk, ProctoringSession


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


class AssessmentFactory(DjangoModelFactory):
    class Meta:
        model = Assessment
        django_get_or_create = ("institution", "external_id")

    external_id = factory.Sequence(lambda n: f"exam-{n}")
    title = factory.Sequence(lambda n: f"Exam {n}")
    duration_seconds = 3600


class CandidateFactory(DjangoModelFactory):
    class Meta:
        model = Candidate

    external_id = factory.Sequence(lambda n: f"cand-{n}")
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"L{n}")
    email = factory.Sequence(lambda n: f"c{n}@example.edu")


class SessionFactory(DjangoModelFactory):
    """A session; ``started_at`` or ``started_ago`` sets its start (the database sets it on insert)."""

    class Meta:
        model = ProctoringSession

    assessment = factory.SubFactory(AssessmentFactory, institution=factory.SelfAttribute("..institution"))
    candidate = factory.SubFactory(CandidateFactory, institution=factory.SelfAttribute("..institution"))
    attempt_id = factory.Sequence(lambda n: f"attempt-{n}")
    origin = "https://exams.alpha.edu"
    status = factory.LazyAttribute(
        lambda o: ProctoringSession.Status.COMPLETED if o.ended_at else ProctoringSession.Status.ACTIVE
    )
    ended_at = None

    @classmethod
    def _create(cls, model_class, *args, started_ago: timedelta | None = None, started_at=None, **kwargs):
        session = super()._create(model_class, *args, **kwargs)
        if started_ago is not None:
            started_at = timezone.now() - started_ago
        if started_at is not None:
            ProctoringSession.objects.filter(pk=session.pk).update(started_at=started_at)
            session.refresh_from_db()
        return session


class MediaFactory(DjangoModelFactory):
    """A stored frame, snapshot or evidence chunk with real bytes (a JPEG, or a WAV when given one)."""

    class Meta:
        model = MediaChunk
        exclude = ("data", "at_seconds")

    session = None
    institution_id = factory.SelfAttribute("session.institution_id")
    kind = MediaChunk.Kind.FRAME
    seq = factory.Sequence(lambda n: n + 1)
    at_seconds = 0.0
    data = factory.LazyFunction(jpeg)
    captured_at = factory.LazyAttribute(lambda o: o.session.started_at + timedelta(seconds=o.at_seconds))
    content_type = factory.LazyAttribute(lambda o: "audio/wav" if o.data[:4] == b"RIFF" else "image/jpeg")
    size = factory.LazyAttribute(lambda o: len(o.data))
    duration_seconds = factory.LazyAttribute(lambda o: 1.0 if o.data[:4] == b"RIFF" else 0.0)
    meta = factory.LazyAttribute(lambda o: {"obs": {"faces": 1}} if o.kind in ("frame", "snapshot") else {})
    file = factory.LazyAttribute(
        lambda o: ContentFile(
            o.data,
            name=f"test/{o.session.public_id}/{o.kind}-{o.seq}.{'wav' if o.data[:4] == b'RIFF' else 'jpg'}",
        )
    )


class FlagFactory(DjangoModelFactory):
    """A flag ``at_seconds`` into its session, lasting ``seconds``."""

    class Meta:
        model = Flag
        exclude = ("at_seconds", "seconds")

    session = None
    institution_id = factory.SelfAttribute("session.institution_id")
    type = "FACE_ABSENCE"
    description = factory.LazyAttribute(lambda o: f"{o.type} for the test")
    at_seconds = 30.0
    seconds = 8.0
    started_at = factory.LazyAttribute(lambda o: o.session.started_at + timedelta(seconds=o.at_seconds))
    ended_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(seconds=o.seconds))
    duration_seconds = factory.SelfAttribute("seconds")
    episode_key = factory.Sequence(lambda n: f"episode-{n}")


class EventFactory(DjangoModelFactory):
    """A browser signal (or, with ``source``, a server event) stored on a session."""

    class Meta:
        model = Event

    session = None
    institution_id = factory.SelfAttribute("session.institution_id")
    type = "TAB_FOCUS_CHANGE"
    source = Event.Source.BROWSER
    client_seq = None
    started_at = factory.LazyFunction(timezone.now)
    payload = factory.LazyFunction(lambda: {"focused": False})
