"""Privacy requests: everything held about one candidate, exported as one archive or erased.

* **Export** (``candidate_export_write``): a zip with ``manifest.json`` (the
  candidate, each session with its assessment, events, flags, media list,
  identity descriptors, reviews and audit entries, LMS attempt and webhook
  deliveries) and every media file under ``media/``. Media is copied from
  storage (local folder or S3) in blocks into a temporary file, so memory stays
  bounded whatever the size of the recordings.
* **Erasure** (``candidate_erase``): media files and rows, images, audio,
  identity descriptors and every free-text or personal field go; the candidate
  row stays as a tombstone (``erased_at``, ``external_id`` ``erased:<id>``) and
  sessions, flags and events keep their type and times, so sessions per day,
  flags by type and candidate-hours (usage) still add up.
* **Retention** (``retention_purge_expired``): the same deletion, for sessions
  that ended more than their assessment's ``retention_days`` (or the
  institution's) ago; a candidate whose sessions are all past retention is
  tombstoned. One institution at a time, every figure clamped, so one
  institution's values can neither overflow nor stop another's purge.

Every export and erasure writes a ``PrivacyRequest``: who, when, how, and what
it counted, never the candidate's personal data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import zipfile
from collections import Counter
from datetime import datetime, timedelta

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from proctorme.errors import CandidateSessionRunning
from proctorme.times import iso
from sessions.models import (
    Accommodation,
    Assessment,
    AuditLogEntry,
    AuxDevice,
    Candidate,
    Event,
    Flag,
    MediaChunk,
    PrivacyRequest,
    ProctoringSession,
)
from tenants.models import MAX_RETENTION_DAYS, Institution, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

EXPORT_FORMAT = "proctorme.candidate-export.v1"
ERASED = "erased"
COPY_BLOCK = 256 * 1024
RETENTION_BATCH = 200
# Session config keys that carry who the candidate is (the rest is detector switches).
PERSONAL_CONFIG_KEYS = ("testAttemptId",)
# Every model whose rows hang off a candidate (a chain of foreign keys leads to Candidate), and
# what an erasure does with it. tests/privacy/test_erasure.py fails for a model missing here.
ERASURE_COVERS = {
    "proctoring.candidate": "tombstone: names, e-mail, ids and photo URL replaced",
    "proctoring.proctoringsession": "attempt id, resume secret, testAttemptId, analysis state, notes cleared",
    "proctoring.event": "payload cleared; type and times stay",
    "proctoring.mediachunk": "deleted with its file",
    "proctoring.flag": "payload and dismissal reason cleared; type and times stay",
    "proctoring.auxdevice": "user agent and device digest cleared",
    "proctoring.accommodation": "deleted",
    "proctoring.auditlogentry": "details cleared; action, actor and time stay",
    "lti.ltiattempt": "user id, claims and session data cleared",
    "lti.ltiservicecall": "request and response bodies cleared",
}
_SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "audio/wav": ".wav", "audio/x-wav": ".wav"}


def clamp_retention_days(value) -> int:
    """A retention in days that date arithmetic can always take (1 … MAX_RETENTION_DAYS)."""
    try:
        days = int(value or 0)
    except (TypeError, ValueError):
        days = 0
    return min(max(days, 1), MAX_RETENTION_DAYS)


# --- export ----------------------------------------------------------------------------------------


def _candidate_json(candidate: Candidate) -> dict:
    return {
        "id": str(candidate.public_id),
        "externalId": candidate.external_id,
        "email": candidate.email,
        "firstName": candidate.first_name,
        "lastName": candidate.last_name,
        "imageUrl": candidate.image_url,
        "createdAt": iso(candidate.created_at),
        "erasedAt": iso(candidate.erased_at),
    }


def _media_name(session: ProctoringSession, chunk: MediaChunk) -> str:
    return f"media/{session.public_id}/{chunk.kind}-{chunk.seq}{_SUFFIXES.get(chunk.content_type, '.bin')}"


def _copy_into(archive: zipfile.ZipFile, chunk: MediaChunk, name: str) -> tuple[str, int] | None:
    """Copy one media file from storage into the archive in blocks; its SHA-256 and size."""
    digest = hashlib.sha256()
    size = 0
    try:
        source = chunk.file.open("rb")
    except (FileNotFoundError, ValueError, OSError):
        return None
    with source, archive.open(name, "w", force_zip64=True) as target:
        while block := source.read(COPY_BLOCK):
            digest.update(block)
            size += len(block)
            target.write(block)
    return digest.hexdigest(), size


def _session_json(session: ProctoringSession, archive: zipfile.ZipFile) -> dict:
    institution_id = session.institution_id
    media = []
    for chunk in MediaChunk.objects.filter(institution_id=institution_id, session=session).order_by(
        "kind", "seq"
    ):
        name = _media_name(session, chunk)
        copied = _copy_into(archive, chunk, name)
        media.append(
            {
                "id": str(chunk.public_id),
                "kind": chunk.kind,
                "seq": chunk.seq,
                "capturedAt": iso(chunk.captured_at),
                "durationSeconds": chunk.duration_seconds,
                "contentType": chunk.content_type,
                "size": copied[1] if copied else chunk.size,
                "sha256": copied[0] if copied else None,
                "file": name if copied else None,
                # Observations of the analysis, identity descriptors among them.
                "meta": chunk.meta,
            }
        )
    flags = [
        {
            "id": str(flag.public_id),
            "type": flag.type,
            "description": flag.description,
            "startedAt": iso(flag.started_at),
            "endedAt": iso(flag.ended_at),
            "durationSeconds": flag.duration_seconds,
            "evidence": str(flag.evidence.public_id) if flag.evidence else None,
            "payload": flag.payload,
            "dismissedAt": iso(flag.dismissed_at),
            "dismissedReason": flag.dismissed_reason,
        }
        for flag in Flag.objects.filter(institution_id=institution_id, session=session).select_related(
            "evidence"
        )
    ]
    events = [
        {
            "id": str(event.public_id),
            "type": event.type,
            "source": event.source,
            "clientSeq": event.client_seq,
            "startedAt": iso(event.started_at),
            "endedAt": iso(event.ended_at),
            "payload": event.payload,
        }
        for event in Event.objects.filter(institution_id=institution_id, session=session).iterator()
    ]
    audit = [
        {
            "id": str(entry.public_id),
            "action": entry.action,
            "actor": entry.actor_label,
            "flag": str(entry.flag.public_id) if entry.flag else None,
            "details": entry.details,
            "createdAt": iso(entry.created_at),
        }
        for entry in AuditLogEntry.objects.filter(institution_id=institution_id, session=session)
        .select_related("flag")
        .order_by("created_at", "pk")
    ]
    return {
        "id": str(session.public_id),
        "attemptId": session.attempt_id,
        "dialect": session.dialect,
        "status": session.status,
        "assessment": {
            "id": str(session.assessment.public_id),
            "externalId": session.assessment.external_id,
            "title": session.assessment.title,
        },
        "origin": session.origin,
        "clientIp": session.client_ip,
        "config": session.config,
        "startedAt": iso(session.started_at),
        "deadlineAt": iso(session.deadline_at),
        "endedAt": iso(session.ended_at),
        "endReason": session.end_reason,
        "lastSeenAt": iso(session.last_seen_at),
        "trustScore": session.trust_score,
        "trustBreakdown": session.trust_breakdown,
        "scoreFinal": session.score_final,
        "reviewedScore": session.reviewed_score,
        "verdict": session.verdict,
        "verdictNotes": session.verdict_notes,
        # The reference descriptor the identity check compared against, and the analysis cursors.
        "analysisState": session.analysis_state,
        "personalDataDeletedAt": iso(session.personal_data_deleted_at),
        "events": events,
        "flags": flags,
        "media": media,
        "auditLog": audit,
        "auxDevices": [
            {
                "id": str(d.public_id),
                "label": d.label,
                "userAgent": d.user_agent,
                "pairedAt": iso(d.paired_at),
                "startedAt": iso(d.started_at),
                "lastSeenAt": iso(d.last_seen_at),
                "disconnectedAt": iso(d.disconnected_at),
            }
            for d in AuxDevice.objects.filter(institution_id=institution_id, session=session).order_by("pk")
        ],
        "lmsAttempt": _lti_json(session),
        "webhookDeliveries": [
            {
                "id": str(d.public_id),
                "event": d.event,
                "status": d.status,
                "payload": d.payload,
                "createdAt": iso(d.created_at),
            }
            for d in _deliveries(institution_id, [session.public_id])
        ],
    }


def _lti_json(session: ProctoringSession) -> dict | None:
    from sessions.lti.models import LtiAttempt

    attempt = LtiAttempt.objects.filter(institution_id=session.institution_id, session=session).first()
    if attempt is None:
        return None
    return {
        "id": str(attempt.public_id),
        "userSub": attempt.user_sub,
        "contextId": attempt.context_id,
        "resourceLinkId": attempt.resource_link_id,
        "attemptNumber": attempt.attempt_number,
        "claims": attempt.claims,
        "status": attempt.status,
        "createdAt": iso(attempt.created_at),
        "endedAt": iso(attempt.ended_at),
    }


def _deliveries(institution_id: int, session_public_ids):
    return WebhookDelivery.objects.filter(
        institution_id=institution_id, payload__sessionId__in=[str(s) for s in session_public_ids]
    ).order_by("created_at", "pk")


def candidate_export_write(*, candidate: Candidate, actor=None, actor_label: str, via: str):
    """Write the candidate's archive into a temporary file (rewound) and record the export.

    The caller streams the file and closes it (it is deleted on close).
    """
    # Handed to the response, which closes it once sent.
    handle = tempfile.TemporaryFile(suffix=".zip")  # noqa: SIM115
    try:
        _archive_write(handle, candidate, actor=actor, actor_label=actor_label, via=via)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle


def _archive_write(handle, candidate: Candidate, *, actor, actor_label: str, via: str) -> None:
    sessions = (
        ProctoringSession.objects.filter(institution_id=candidate.institution_id, candidate=candidate)
        .select_related("assessment")
        .order_by("started_at", "pk")
    )
    counts: Counter = Counter()
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        exported = []
        for session in sessions:
            data = _session_json(session, archive)
            exported.append(data)
            counts["sessions"] += 1
            counts["events"] += len(data["events"])
            counts["flags"] += len(data["flags"])
            counts["media"] += sum(1 for m in data["media"] if m["file"])
            counts["auditEntries"] += len(data["auditLog"])
        manifest = {
            "format": EXPORT_FORMAT,
            "exportedAt": iso(timezone.now()),
            "institution": {"id": str(candidate.institution.public_id), "name": candidate.institution.name},
            "candidate": _candidate_json(candidate),
            "sessions": exported,
            "accommodations": [
                {
                    "id": str(a.public_id),
                    "assessment": str(a.assessment.public_id) if a.assessment else None,
                    "extraSeconds": a.extra_seconds,
                    "timeMultiplier": str(a.time_multiplier),
                    "disabledDetectors": a.disabled_detectors,
                    "note": a.note,
                    "createdAt": iso(a.created_at),
                    "updatedAt": iso(a.updated_at),
                }
                for a in Accommodation.objects.filter(
                    institution_id=candidate.institution_id, candidate=candidate
                )
                .select_related("assessment")
                .order_by("pk")
            ],
            # Entries about the candidate rather than one session (accommodations set or removed).
            "auditLog": [
                {
                    "id": str(entry.public_id),
                    "action": entry.action,
                    "actor": entry.actor_label,
                    "details": entry.details,
                    "createdAt": iso(entry.created_at),
                }
                for entry in AuditLogEntry.objects.filter(
                    institution_id=candidate.institution_id, candidate=candidate, session__isnull=True
                ).order_by("created_at", "pk")
            ],
            "privacyRequests": [
                {"kind": r.kind, "via": r.via, "createdAt": iso(r.created_at), "counts": r.counts}
                for r in PrivacyRequest.objects.filter(
                    institution_id=candidate.institution_id, candidate_public_id=candidate.public_id
                ).order_by("created_at")
            ],
        }
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    PrivacyRequest.objects.create(
        institution_id=candidate.institution_id,
        kind=PrivacyRequest.Kind.EXPORT,
        via=via,
        candidate_public_id=candidate.public_id,
        actor=actor,
        actor_label=actor_label[:254],
        counts=dict(counts),
    )


def export_filename(candidate: Candidate) -> str:
    return f"candidate-{candidate.public_id}-{timezone.now():%Y%m%d-%H%M}.zip"


# --- erasure ---------------------------------------------------------------------------------------


def _scrub_admin_log(model, object_ids) -> int:
    content_type = ContentType.objects.get_for_model(model)
    return LogEntry.objects.filter(
        content_type=content_type, object_id__in=[str(pk) for pk in object_ids]
    ).update(object_repr=ERASED, change_message="")


def _sessions_personal_data_delete(*, institution_id: int, session_ids: list[int]) -> Counter:
    """Delete the personal data of these sessions (all of one institution); keep their counts."""
    counts: Counter = Counter()
    if not session_ids:
        return counts
    sessions = ProctoringSession.objects.filter(institution_id=institution_id, pk__in=session_ids)
    chunks = MediaChunk.objects.filter(institution_id=institution_id, session_id__in=session_ids)
    for chunk in chunks.only("pk", "file", "kind", "size", "meta").iterator():
        # The file first: a failure leaves the row (and the next run tries again), never a lost file.
        if chunk.file:
            chunk.file.delete(save=False)
        counts[f"media.{chunk.kind}"] += 1
        counts["mediaBytes"] += chunk.size
        if (chunk.meta or {}).get("obs", {}).get("descriptor") is not None:
            counts["descriptors"] += 1
        chunk.delete()
    for state in sessions.values_list("analysis_state", flat=True):
        if (state or {}).get("identity", {}).get("reference") is not None:
            counts["descriptors"] += 1
    counts["events"] = Event.objects.filter(institution_id=institution_id, session_id__in=session_ids).update(
        payload={}
    )
    counts["flags"] = Flag.objects.filter(institution_id=institution_id, session_id__in=session_ids).update(
        payload={}, dismissed_reason=""
    )
    counts["auditEntries"] = AuditLogEntry.objects.filter(
        institution_id=institution_id, session_id__in=session_ids
    ).update(details={ERASED: True})
    counts["auxDevices"] = AuxDevice.objects.filter(
        institution_id=institution_id, session_id__in=session_ids
    ).update(user_agent="", device_digest="")
    now = timezone.now()
    public_ids = []
    for session in sessions.only("pk", "public_id", "config"):
        public_ids.append(session.public_id)
        config = {k: v for k, v in (session.config or {}).items() if k not in PERSONAL_CONFIG_KEYS}
        ProctoringSession.objects.filter(pk=session.pk).update(
            attempt_id=f"{ERASED}:{session.public_id}",
            resume_digest="",
            client_ip=None,
            config=config,
            analysis_state={},
            verdict_notes="",
            personal_data_deleted_at=now,
        )
    counts["sessions"] = len(public_ids)
    deliveries = _deliveries(institution_id, public_ids)
    counts["webhookDeliveries"] = 0
    for delivery in deliveries.only("pk", "event", "payload"):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            payload={"event": delivery.event, "sessionId": delivery.payload.get("sessionId"), ERASED: True}
        )
        WebhookAttempt.objects.filter(delivery_id=delivery.pk).update(response_excerpt="", error="")
        counts["webhookDeliveries"] += 1
    counts["ltiAttempts"] = _lti_scrub(institution_id, session_ids)
    _scrub_admin_log(ProctoringSession, session_ids)
    return counts


def _lti_scrub(institution_id: int, session_ids: list[int]) -> int:
    from sessions.lti.models import LtiAttempt, LtiServiceCall

    attempts = LtiAttempt.objects.filter(institution_id=institution_id, session_id__in=session_ids)
    attempt_ids = list(attempts.values_list("pk", flat=True))
    LtiServiceCall.objects.filter(institution_id=institution_id, attempt_id__in=attempt_ids).update(
        request_body={}, response_body={}, error=""
    )
    for attempt in LtiAttempt.objects.filter(pk__in=attempt_ids).only("pk", "public_id"):
        LtiAttempt.objects.filter(pk=attempt.pk).update(
            user_sub=f"{ERASED}:{attempt.public_id}", claims={}, session_data=""
        )
    return len(attempt_ids)


def _tombstone(candidate: Candidate, now: datetime) -> None:
    Candidate.objects.filter(pk=candidate.pk).update(
        external_id=f"{ERASED}:{candidate.public_id}",
        email="",
        first_name="",
        last_name="",
        image_url="",
        erased_at=now,
    )
    _scrub_admin_log(Candidate, [candidate.pk])


def _candidate_records_delete(candidate: Candidate, counts: Counter) -> None:
    """What is held about the candidate beyond their sessions: accommodations (their notes may
    describe a health condition) and the audit entries about them."""
    counts["accommodations"] += Accommodation.objects.filter(
        institution_id=candidate.institution_id, candidate=candidate
    ).delete()[0]
    counts["auditEntries"] += AuditLogEntry.objects.filter(
        institution_id=candidate.institution_id, candidate=candidate, session__isnull=True
    ).update(details={ERASED: True})


def _counts_json(counts: Counter) -> dict:
    media = {key.split(".", 1)[1]: n for key, n in sorted(counts.items()) if key.startswith("media.")}
    plain = {key: n for key, n in sorted(counts.items()) if not key.startswith("media.")}
    return {**plain, "media": media}


def candidate_erase(*, candidate: Candidate, actor=None, actor_label: str, via: str) -> PrivacyRequest:
    """Erase everything personal held about this candidate (within their institution only).

    Idempotent: erasing a tombstone again deletes whatever arrived since and records it. Refused
    while one of their sessions runs or finalises (uploads and the analysis would write again).
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Candidate.objects.select_for_update().get(
            pk=candidate.pk, institution_id=candidate.institution_id
        )
        running = ProctoringSession.objects.filter(
            institution_id=locked.institution_id, candidate=locked
        ).exclude(status=ProctoringSession.Status.COMPLETED)
        if running.exists():
            ids = [str(public_id) for public_id in running.values_list("public_id", flat=True)]
            raise CandidateSessionRunning(details={"sessions": ids})
        session_ids = list(
            ProctoringSession.objects.filter(
                institution_id=locked.institution_id, candidate=locked
            ).values_list("pk", flat=True)
        )
        counts = _sessions_personal_data_delete(institution_id=locked.institution_id, session_ids=session_ids)
        _candidate_records_delete(locked, counts)
        _tombstone(locked, now)
        return PrivacyRequest.objects.create(
            institution_id=locked.institution_id,
            kind=PrivacyRequest.Kind.ERASURE,
            via=via,
            candidate_public_id=locked.public_id,
            actor=actor,
            actor_label=actor_label[:254],
            counts=_counts_json(counts),
        )


# --- retention ------------------------------------------------------------------------------------


def _expired_sessions(institution: Institution, now: datetime):
    """Sessions of one institution past their assessment's (or the institution's) retention."""
    default = clamp_retention_days(institution.retention_days)
    expired = Q(assessment__retention_days__isnull=True, ended_at__lte=now - timedelta(days=default))
    overrides = (
        Assessment.objects.filter(institution=institution, retention_days__isnull=False)
        .order_by()
        .values_list("retention_days", flat=True)
        .distinct()
    )
    for days in overrides:
        expired |= Q(
            assessment__retention_days=days, ended_at__lte=now - timedelta(days=clamp_retention_days(days))
        )
    return ProctoringSession.objects.filter(expired, institution=institution, ended_at__isnull=False)


def _retention_purge_institution(institution: Institution, now: datetime) -> int:
    expired = _expired_sessions(institution, now)
    # Media first: chunks of an expired session that already lost its other personal data (a
    # late upload, a failed file delete) go too.
    media = MediaChunk.objects.filter(institution_id=institution.pk, session__in=expired).count()
    session_ids = list(expired.filter(personal_data_deleted_at__isnull=True).values_list("pk", flat=True))
    leftover = list(
        expired.filter(personal_data_deleted_at__isnull=False, media__isnull=False)
        .values_list("pk", flat=True)
        .distinct()
    )
    pending = session_ids + leftover
    # In batches: a first run over years of sessions is many short transactions, not one.
    for start in range(0, len(pending), RETENTION_BATCH):
        batch = pending[start : start + RETENTION_BATCH]
        with transaction.atomic():
            _sessions_personal_data_delete(institution_id=institution.pk, session_ids=batch)
        _retention_tombstone_candidates(institution, batch, now)
    return media


def _retention_tombstone_candidates(institution: Institution, session_ids: list[int], now: datetime) -> None:
    """Candidates of these sessions whose every session is past retention: their names go too."""
    touched = (
        Candidate.objects.filter(
            institution=institution, erased_at__isnull=True, sessions__pk__in=session_ids
        )
        .exclude(sessions__personal_data_deleted_at__isnull=True)
        .distinct()
    )
    for candidate in touched:
        with transaction.atomic():
            _candidate_records_delete(candidate, Counter())
            _tombstone(candidate, now)
            PrivacyRequest.objects.create(
                institution_id=institution.pk,
                kind=PrivacyRequest.Kind.RETENTION,
                via=PrivacyRequest.Via.SYSTEM,
                candidate_public_id=candidate.public_id,
                actor_label="retention",
                counts={"sessions": candidate.sessions.count()},
            )


def retention_purge_expired(*, now: datetime | None = None) -> int:
    """Delete personal data past retention, institution by institution; media files deleted."""
    now = now or timezone.now()
    purged = 0
    for institution in Institution.objects.only("pk", "retention_days").iterator():
        try:
            purged += _retention_purge_institution(institution, now)
        except Exception:
            # One institution's failure (storage down, a bad row) never stops anyone else's purge.
            log.exception("retention purge failed for institution %s", institution.pk)
    return purged


# --- streaming an archive -------------------------------------------------------------------------


def _blocks(handle):
    with handle:
        while block := handle.read(COPY_BLOCK):
            yield block


async def _blocks_async(handle):
    """The same blocks for an ASGI server, which would otherwise read a sync iterator whole into
    memory before sending a byte."""
    from asgiref.sync import sync_to_async

    try:
        while block := await sync_to_async(handle.read, thread_sensitive=False)(COPY_BLOCK):
            yield block
    finally:
        handle.close()


def archive_response(handle, *, request, filename: str, content_type: str):
    """Stream a temporary file in blocks (bounded memory under WSGI and ASGI alike), then close it."""
    from django.core.handlers.asgi import ASGIRequest
    from django.http import StreamingHttpResponse

    size = handle.seek(0, 2)
    handle.seek(0)
    blocks = _blocks_async(handle) if isinstance(request, ASGIRequest) else _blocks(handle)
    response = StreamingHttpResponse(blocks, content_type=content_type)
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
