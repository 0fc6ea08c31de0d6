"""Media uploads from the widget: validated cheaply, stored idempotently, then queued.

Validation here is structural (JPEG markers and frame header, PCM length) so
the request returns at once; full decoding happens in the analysis task,
which marks a chunk that still fails to decode instead of raising.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from analysis.audio import pcm_to_wav
from analysis.frames import InvalidImage, jpeg_check
from proctorme.errors import InvalidMedia, ProctormeError, SessionEnded
from proctorme.tasks import enqueue
from proctorme.times import client_time
from sessions.models import MediaChunk, ProctoringSession
from sessions.services import MAX_SEQ

MAX_ITEMS = 64
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_BYTES = {"frame": 200 * 1024, "snapshot": 1024 * 1024, "audio": 16000 * 2 * 10, "aux": 512 * 1024}
# What the exam page's widget uploads; "aux" (a paired phone's side view, sessions.aux) is
# accepted only from the phone's own endpoint with its device secret.
WIDGET_KINDS = ("frame", "snapshot", "audio")
SAMPLE_RATE = 16000
# Twice the widget's capture size each way (sessions.config.CAPTURE_DEFAULTS: 320×240 frames,
# 640×480 snapshots): a 4096×4096 "frame" costs the analysis ~200 times a real one.
MAX_PIXELS = {"frame": 640 * 480, "snapshot": 1280 * 960, "aux": 1280 * 960}
# Items of each kind one session may store: the widget's cadence (a frame a second, a snapshot
# every 30 s, an audio batch every 5 s) over the exam's length, with room for retries and drift.
PER_SECOND = {"frame": 1.5, "snapshot": 0.1, "audio": 0.5, "aux": 0.75}
PER_SESSION_SLACK = 300


def session_media_limit(session: ProctoringSession, kind: str) -> int:
    seconds = float(session.config.get("examSeconds") or 0) + 120
    return int(seconds * PER_SECOND[kind]) + PER_SESSION_SLACK


class MediaTooLarge(ProctormeError):
    code = "MEDIA_TOO_LARGE"


@dataclass
class UploadItem:
    part: str
    kind: str
    seq: int
    captured_at: datetime
    data: bytes
    duration_seconds: float = 0.0


def parse_upload(meta_raw: str | None, files, *, kinds: tuple[str, ...] = WIDGET_KINDS) -> list[UploadItem]:
    """Check the whole batch before anything is stored; raise with the offending part named."""
    try:
        meta = json.loads(meta_raw or "")
        items = meta["items"]
        assert isinstance(items, list) and items
    except (ValueError, KeyError, TypeError, AssertionError, RecursionError):
        raise InvalidMedia(
            "meta must be JSON with a non-empty items list.", details={"reason": "bad meta"}
        ) from None
    if len(items) > MAX_ITEMS:
        raise MediaTooLarge(f"At most {MAX_ITEMS} items per upload.")
    now = timezone.now()
    parsed, total, seen = [], 0, set()
    for item in items:
        details = {"part": item.get("part") if isinstance(item, dict) else None}
        if not isinstance(item, dict):
            raise InvalidMedia("Every item must be an object.", details={**details, "reason": "bad item"})
        kind, seq, part = item.get("kind"), item.get("seq"), item.get("part")
        details.update(kind=kind, seq=seq)
        if kind not in kinds:
            message = (
                "kind must be frame, snapshot or audio." if kinds == WIDGET_KINDS else "kind must be aux."
            )
            raise InvalidMedia(message, details={**details, "reason": "bad kind"})
        if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
            raise InvalidMedia(
                f"seq must be an integer from 1 to {MAX_SEQ}.", details={**details, "reason": "bad seq"}
            )
        if (kind, seq) in seen:
            raise InvalidMedia(
                "The same item twice in one batch.", details={**details, "reason": "repeated item"}
            )
        seen.add((kind, seq))
        upload = files.get(part) if isinstance(part, str) else None
        if upload is None:
            raise InvalidMedia(
                "The item's file part is missing.", details={**details, "reason": "missing part"}
            )
        if upload.size > MAX_BYTES[kind]:
            raise MediaTooLarge(f"A {kind} may be at most {MAX_BYTES[kind]} bytes.", details=details)
        total += upload.size
        if total > MAX_BATCH_BYTES:
            raise MediaTooLarge("The batch is too large.", details=details)
        data = upload.read()
        duration = 0.0
        if kind in ("frame", "snapshot", "aux"):
            try:
                jpeg_check(data, max_pixels=MAX_PIXELS[kind])
            except InvalidImage as exc:
                raise InvalidMedia(
                    f"The {kind} is not a valid JPEG: {exc}.", details={**details, "reason": str(exc)}
                ) from None
        else:
            rate = item.get("sampleRate", SAMPLE_RATE)
            duration_ms = item.get("durationMs")
            if rate != SAMPLE_RATE:
                raise InvalidMedia("Audio must be 16 kHz.", details={**details, "reason": "bad sample rate"})
            if len(data) == 0 or len(data) % 2:
                raise InvalidMedia(
                    "Audio must be whole 16-bit samples.", details={**details, "reason": "odd length"}
                )
            samples = len(data) // 2
            if (
                not isinstance(duration_ms, int | float)
                or abs(samples - duration_ms * SAMPLE_RATE / 1000) > SAMPLE_RATE * 0.02
            ):
                raise InvalidMedia(
                    "The audio length does not match durationMs (truncated?).",
                    details={**details, "reason": "length mismatch"},
                )
            duration = samples / SAMPLE_RATE
        parsed.append(
            UploadItem(
                part=part,
                kind=kind,
                seq=seq,
                captured_at=client_time(item.get("capturedAt"), now),
                data=data,
                duration_seconds=duration,
            )
        )
    return parsed


def media_store(*, session: ProctoringSession, items: list[UploadItem]) -> tuple[list[dict], list[dict]]:
    """Store each item once; returns (accepted, duplicates). Queues analysis after commit.

    Files are written before their rows; should the transaction fail, the files it wrote
    are removed again, so nothing is ever left on disk without a row.
    """
    written: list[MediaChunk] = []
    try:
        return _media_store(session=session, items=items, written=written)
    except BaseException:
        for chunk in written:
            chunk.file.delete(save=False)
        raise


def _media_store(
    *, session: ProctoringSession, items: list[UploadItem], written: list[MediaChunk]
) -> tuple[list[dict], list[dict]]:
    existing = set(
        MediaChunk.objects.filter(
            session=session, kind__in={i.kind for i in items}, seq__in={i.seq for i in items}
        ).values_list("kind", "seq")
    )
    accepted, duplicates = [], []
    with transaction.atomic():
        # Locked like session_end locks it: an upload either commits before the end (and the
        # final analysis sees it) or finds the session ended; never stored and then left unread.
        locked = (
            ProctoringSession.objects.select_for_update(of=("self",))
            .only("status", "config")
            .get(pk=session.pk)
        )
        if locked.status != ProctoringSession.Status.ACTIVE:
            raise SessionEnded()
        for kind in {item.kind for item in items}:
            new = sum(1 for item in items if item.kind == kind and (item.kind, item.seq) not in existing)
            stored = MediaChunk.objects.filter(session=session, kind=kind).count()
            if new and stored + new > session_media_limit(locked, kind):
                raise MediaTooLarge(
                    f"This session has stored all the {kind} items an exam of its length can have.",
                    details={
                        "kind": kind,
                        "reason": "session limit",
                        "limit": session_media_limit(locked, kind),
                    },
                )
        for item in items:
            if (item.kind, item.seq) in existing:
                duplicates.append({"kind": item.kind, "seq": item.seq})
                continue
            is_audio = item.kind == "audio"
            content = pcm_to_wav(item.data) if is_audio else item.data
            chunk = MediaChunk(
                institution_id=session.institution_id,
                session=session,
                kind=item.kind,
                seq=item.seq,
                captured_at=item.captured_at,
                duration_seconds=item.duration_seconds,
                content_type="audio/wav" if is_audio else "image/jpeg",
                size=len(content),
                meta={"device": "aux"} if item.kind == "aux" else {},
            )
            name = f"{session.institution.public_id}/{session.public_id}/{item.kind}-{item.seq:06d}.{'wav' if is_audio else 'jpg'}"
            chunk.file.save(name, ContentFile(content), save=False)
            written.append(chunk)
            try:
                with transaction.atomic():
                    chunk.save()
            except IntegrityError:
                # A concurrent retry stored it first.
                chunk.file.delete(save=False)
                duplicates.append({"kind": item.kind, "seq": item.seq})
                continue
            accepted.append({"kind": item.kind, "seq": item.seq})
        if accepted:
            # Uploads count as a sign of life for the live dashboard's connection state.
            ProctoringSession.objects.filter(pk=session.pk).update(last_seen_at=timezone.now())
            from sessions.tasks import session_analyse_task

            enqueue(session_analyse_task, str(session.public_id))
    return accepted, duplicates
