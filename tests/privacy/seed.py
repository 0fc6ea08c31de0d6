"""A candidate with one of everything the platform holds about a person, every personal value
carrying one token so a test can search every table and file for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from sessions.dashboard.services import flag_dismiss, session_verdict_set
from sessions.lti.models import LtiAttempt, LtiRegistration, LtiServiceCall
from sessions.models import Accommodation, AuditLogEntry, AuxDevice, Event, MediaChunk
from sessions.webhooks import session_completed_payload
from tenants.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.factories import (
    AssessmentFactory,
    CandidateFactory,
    EventFactory,
    FlagFactory,
    MediaFactory,
    SessionFactory,
    jpeg,
    wav,
)


@dataclass
class Seeded:
    token: str
    candidate: object
    sessions: list
    descriptor: list[float]
    media: dict[str, bytes] = field(default_factory=dict)  # archive-independent: kind-seq → bytes
    client_ip: str = ""  # the address multiSessionAttempt kept on each of the sessions


def _descriptor(seed: int) -> list[float]:
    # Distinctive values (six decimals, like the pipeline's rounding) that occur nowhere else.
    return [round(-0.3 - seed / 1000 - i / 100003, 6) for i in range(8)]


def seed_candidate(tenant, token: str, *, seed: int, colour=(10, 200, 30)) -> Seeded:
    institution = tenant.institution
    candidate = CandidateFactory(
        institution=institution,
        external_id=f"ext-{token}",
        email=f"{token.lower()}@example.edu",
        first_name=f"Ada{token}",
        last_name="نور",  # an Arabic family name
        image_url=f"https://photos.example.edu/{token}.jpg",
    )
    descriptor = _descriptor(seed)
    ended = timezone.now() - timedelta(days=2)
    client_ip = f"198.51.100.{100 + seed}"
    seeded = Seeded(token=token, candidate=candidate, sessions=[], descriptor=descriptor, client_ip=client_ip)
    for n in range(2):
        assessment = AssessmentFactory(institution=institution, external_id=f"exam-{seed}-{n}")
        session = SessionFactory(
            institution=institution,
            assessment=assessment,
            candidate=candidate,
            attempt_id=f"eye:{assessment.external_id}:ext-{token}:{n}",
            ended_at=ended + timedelta(hours=n),
            started_at=ended + timedelta(hours=n) - timedelta(minutes=40),
            client_ip=client_ip,
            config={"testAttemptId": f"ta-{token}-{n}", "tracking": {"tabSwitch": True}},
            analysis_state={"identity": {"reference": descriptor, "source": "candidateImageUrl"}},
            trust_score=72.5,
            trust_breakdown={
                "score": 72.5,
                "band": "review",
                "types": {"FACE_ABSENCE": {"count": 1, "seconds": 8, "deduction": 27.5}},
            },
            score_final=True,
        )
        session.refresh_from_db()
        frame = MediaFactory(session=session, kind=MediaChunk.Kind.FRAME, seq=1, data=jpeg(colour))
        snapshot = MediaFactory(
            session=session,
            kind=MediaChunk.Kind.SNAPSHOT,
            seq=2,
            data=jpeg((colour[0] + 1, colour[1], colour[2])),
            meta={"obs": {"faces": 1, "descriptor": descriptor}},
        )
        audio = MediaFactory(session=session, kind=MediaChunk.Kind.AUDIO, seq=3, data=wav(0.2, 300 + seed))
        reference = MediaFactory(
            session=session,
            kind=MediaChunk.Kind.REFERENCE,
            seq=4,
            data=jpeg((colour[0] + 2, colour[1], colour[2])),
        )
        evidence = MediaFactory(
            session=session,
            kind=MediaChunk.Kind.EVIDENCE,
            seq=5,
            data=jpeg((colour[0] + 3, colour[1], colour[2]), size=(160, 120)),
            at_seconds=30,
        )
        idcard = MediaFactory(
            session=session,
            kind=MediaChunk.Kind.ID_CARD,
            seq=6,
            data=jpeg((colour[0] + 4, colour[1], colour[2])),
            meta={"outcome": "match", "distance": 0.31},
        )
        aux = MediaFactory(
            session=session, kind=MediaChunk.Kind.AUX, seq=7, data=jpeg((colour[0] + 5, colour[1], colour[2]))
        )
        AuxDevice.objects.create(
            institution=institution,
            session=session,
            label="phone",
            pairing_digest=f"{seed:02d}{n}".ljust(64, "0"),
            pairing_expires_at=timezone.now(),
            device_digest=f"dev{seed}{n}",
            user_agent=f"Phone of {token}",
        )
        for chunk in (frame, snapshot, audio, reference, evidence, idcard, aux):
            with chunk.file.open("rb") as handle:
                seeded.media[f"{session.public_id}/{chunk.kind}-{chunk.seq}"] = handle.read()
        FlagFactory(session=session, type="FACE_ABSENCE", evidence=evidence, payload={"note": f"p-{token}"})
        FlagFactory(session=session, type="TAB_NOT_FOCUS", at_seconds=90, seconds=4)
        EventFactory(
            session=session,
            type="TAB_FOCUS_CHANGE",
            source=Event.Source.BROWSER,
            client_seq=1,
            started_at=session.started_at + timedelta(seconds=60),
            payload={"focused": False, "cause": f"window-{token}"},
        )
        session_verdict_set(
            session=session, actor=tenant.reviewer, verdict="suspicious", notes=f"Notes about {token}"
        )
        flag_dismiss(
            flag=FlagFactory(session=session, type="LOUD_NOISE", at_seconds=200),
            actor=tenant.reviewer,
            reason=f"Reason {token}",
        )
        session.refresh_from_db()
        endpoint = WebhookEndpoint.objects.filter(
            institution=institution
        ).first() or WebhookEndpoint.objects.create(
            institution=institution, url="https://93.184.216.34/hook", secret_encrypted="x", secret_prefix="x"
        )
        delivery = WebhookDelivery.objects.create(
            institution=institution,
            endpoint=endpoint,
            event="session.completed",
            payload=session_completed_payload(session=session),
        )
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=1,
            requested_at=timezone.now(),
            status_code=200,
            response_excerpt=f"ok ext-{token}",
        )
        registration = LtiRegistration.objects.filter(
            institution=institution
        ).first() or LtiRegistration.objects.create(
            institution=institution,
            name="LMS",
            issuer=f"https://lms.{institution.slug}.test",
            client_id="c1",
            auth_login_url="https://lms.test/auth",
            auth_token_url="https://lms.test/token",
            key_set_url="https://lms.test/jwks",
        )
        attempt = LtiAttempt.objects.create(
            institution=institution,
            registration=registration,
            session=session,
            deployment_id="d1",
            user_sub=f"sub-{token}-{n}",
            resource_link_id="rl1",
            attempt_number=n + 1,
            session_data=f"data-{token}",
            start_assessment_url="https://lms.test/start",
            claims={"name": f"Ada{token}", "email": f"{token.lower()}@example.edu"},
        )
        LtiServiceCall.objects.create(
            institution=institution,
            attempt=attempt,
            service="ags",
            action="score",
            url="https://lms.test/scores",
            request_body={"userId": f"sub-{token}-{n}"},
            response_body={"echo": f"sub-{token}-{n}"},
        )
        for obj in (candidate, session):
            LogEntry.objects.create(
                user=tenant.admin,
                content_type=ContentType.objects.get_for_model(obj),
                object_id=str(obj.pk),
                object_repr=str(obj),
                action_flag=CHANGE,
                change_message=f"Changed for {token}",
            )
        seeded.sessions.append(session)
    Accommodation.objects.create(
        institution=institution, candidate=candidate, extra_seconds=600, note=f"Reads slowly ({token})"
    )
    AuditLogEntry.objects.create(
        institution=institution,
        candidate=candidate,
        actor=tenant.admin,
        actor_label=tenant.admin.email,
        action=AuditLogEntry.Action.ACCOMMODATION_SET,
        details={"extraSeconds": 600, "note": f"Reads slowly ({token})"},
    )
    return seeded
