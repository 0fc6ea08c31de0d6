"""Media uploads from the widget: validated cheaply, stored idempotently, then queued.

Validation here is structural (JPEG markers and frame header, PCM length) so
the request returns at once; full decoding happens in the analysis task,
which marks a chunk that still fails to decode instead of raising.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from analysis.audio import pcm_to_wav
from analysis.frames import InvalidImage, jpeg_check
from proctorme.errors import InvalidMedia, ProctormeError, SessionEnded
from proctorme.times import client_time
from sessions.models import MediaChunk, ProctoringSession
from sessions.rows import rows_insert_new, session_upload_locked
from sessions.services import MAX_SEQ, screen_evidence_link

MAX_ITEMS = 64
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_BYTES = {
    "frame": 200 * 1024,
    "snapshot": 1024 * 1024,
    "audio": 16000 * 2 * 10,
    # captureSwitchedTab: one JPEG of the shared screen (the widget sends at most 1280 wide).
    "screen": 1024 * 1024,
    # recordSession: one chunk of a WebM recording (the widget hands one over every 15 s: a few
    # hundred kB).
    "recording": 3 * 1024 * 1024,
    "aux": 512 * 1024,
}
# What the exam page's widget uploads; "aux" (a paired phone's side view, sessions.aux) is
# accepted only from the phone's own endpoint with its device secret.
WIDGET_KINDS = ("frame", "snapshot", "audio", "screen", "recording")
SAMPLE_RATE = 16000
# Twice the widget's capture size each way (sessions.config.CAPTURE_DEFAULTS: 320×240 frames,
# 640×480 snapshots, screens at most 1280×800): a 4096×4096 "frame" costs ~200 times a real one.
MAX_PIXELS = {"frame": 640 * 480, "snapshot": 1280 * 960, "screen": 2560 * 1600, "aux": 1280 * 960}
# Items of each kind one session may store: the widget's cadence (a frame a second, a snapshot
# every 30 s, an audio batch every 5 s, a recording chunk of camera and one of screen every
# 15 s, a screen capture each time focus leaves) over the exam's length, with room for retries
# and drift.
PER_SECOND = {"frame": 1.5, "snapshot": 0.1, "audio": 0.5, "screen": 0.1, "recording": 0.2, "aux": 0.75}
PER_SESSION_SLACK = 300
RECORDING_SOURCES = ("camera", "screen")
RUN_ID = re.compile(r"[A-Za-z0-9_-]{8,40}")
MAX_RECORDING_MS = 120_000
# WebM is Matroska: an EBML header whose DocType is "webm", then the Segment.
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
SEGMENT_ID = b"\x18\x53\x80\x67"
CONTENT_TYPES = {
    "frame": "image/jpeg",
    "snapshot": "image/jpeg",
    "screen": "image/jpeg",
    "aux": "image/jpeg",
    "audio": "audio/wav",
    "recording": "video/webm",
}
SUFFIXES = {"image/jpeg": "jpg", "audio/wav": "wav", "video/webm": "webm"}


def recording_byte_limit() -> int:
    """Bytes of recording one session may store (PROCTORME_RECORDING_MAX_MB)."""
    return int(settings.PROCTORME_RECORDING_MAX_MB) * 1024 * 1024


def webm_problem(data: bytes) -> str | None:
    """Why ``data`` is not a whole WebM file (structurally), or None."""
    if not data.startswith(EBML_MAGIC):
        return "not a WebM file (no EBML header)"
    head = data[:64]
    if b"\x42\x82" not in head or b"webm" not in head:
        return "not a WebM file (DocType is not webm)"
    if SEGMENT_ID not in data[:4096]:
        return "truncated WebM (no Segment)"
    return None


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
    meta: dict = field(default_factory=dict)


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
                f"kind must be one of {', '.join(kinds)}." if kinds == WIDGET_KINDS else "kind must be aux."
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
        meta: dict = {}
        if kind == "recording":
            source, duration_ms = item.get("source"), item.get("durationMs")
            if source not in RECORDING_SOURCES:
                raise InvalidMedia(
                    "A recording's source must be camera or screen.",
                    details={**details, "reason": "bad source"},
                )
            if (
                isinstance(duration_ms, bool)
                or not isinstance(duration_ms, int | float)
                or not 0 < duration_ms <= MAX_RECORDING_MS
            ):
                raise InvalidMedia(
                    f"A recording's durationMs must be between 1 and {MAX_RECORDING_MS}.",
                    details={**details, "reason": "bad duration"},
                )
            run, chunk = item.get("run"), item.get("chunk")
            if not isinstance(run, str) or not RUN_ID.fullmatch(run):
                raise InvalidMedia(
                    "A recording's run must be 8 to 40 letters, digits, - or _.",
                    details={**details, "reason": "bad run"},
                )
            if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= MAX_SEQ:
                raise InvalidMedia(
                    f"A recording's chunk must be an integer from 1 to {MAX_SEQ}.",
                    details={**details, "reason": "bad chunk"},
                )
            # A run's first chunk is the start of a WebM file; the others continue it.
            problem = webm_problem(data) if chunk == 1 else None
            if problem:
                raise InvalidMedia(
                    f"The recording is not a valid WebM file: {problem}.",
                    details={**details, "reason": problem},
                )
            duration = duration_ms / 1000
            meta = {"source": source, "run": run, "chunk": chunk}
        elif kind in ("frame", "snapshot", "screen", "aux"):
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
                meta=meta,
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


def _rows_insert(chunks: list[MediaChunk], duplicates: list[dict]) -> list[MediaChunk]:
    """The batch's rows in one INSERT that skips any another upload stored first (a concurrent
    retry committed between this batch's duplicate check and its INSERT: the unique (session,
    kind, seq)), each such one a duplicate whose file is removed again. One statement, where a
    savepoint, the INSERT and its release were three (and a clash took a row-by-row retry)."""
    stored = rows_insert_new(MediaChunk, chunks, ("session", "kind", "seq"))
    if len(stored) < len(chunks):
        kept = {id(chunk) for chunk in stored}
        for chunk in chunks:
            if id(chunk) not in kept:
                chunk.file.delete(save=False)
                duplicates.append({"kind": chunk.kind, "seq": chunk.seq})
    return stored


def _stored_counts(session_pk: int, kinds: set[str], seqs: set[int]) -> list[tuple[str, int, int]]:
    """(kind, items stored, how many of them carry one of ``seqs``) for each of ``kinds`` the
    session has stored: one grouped query, as SQL (the ORM built and compiled the grouped,
    filtered count afresh on every upload, which cost more CPU than running it). Only the
    model's own table and column names are formatted in; the values are parameters."""
    if not kinds:
        return []
    quote = connection.ops.quote_name
    meta = MediaChunk._meta
    kind, seq = quote(meta.get_field("kind").column), quote(meta.get_field("seq").column)
    sql = (
        f"SELECT {kind}, COUNT(*), SUM(CASE WHEN {seq} IN ({', '.join(['%s'] * len(seqs))}) "  # noqa: S608
        f"THEN 1 ELSE 0 END) FROM {quote(meta.db_table)} "
        f"WHERE {quote(meta.get_field('session').column)} = %s "
        f"AND {kind} IN ({', '.join(['%s'] * len(kinds))}) GROUP BY {kind}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*seqs, session_pk, *kinds])
        return [(k, int(n), int(clash or 0)) for k, n, clash in cursor.fetchall()]


def _seen_save(session_pk: int, now: datetime) -> None:
    """``ProctoringSession.objects.filter(pk=...).update(last_seen_at=now)`` as one UPDATE
    statement written out here (the ORM compiled it afresh on every upload). Only the model's
    own table and column names are formatted in; the values are parameters."""
    meta = ProctoringSession._meta
    field = meta.get_field("last_seen_at")
    quote = connection.ops.quote_name
    sql = f"UPDATE {quote(meta.db_table)} SET {quote(field.column)} = %s WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [field.get_db_prep_save(now, connection), session_pk])


def _media_store(
    *, session: ProctoringSession, items: list[UploadItem], written: list[MediaChunk]
) -> tuple[list[dict], list[dict]]:
    accepted, duplicates = [], []
    with transaction.atomic():
        # Locked like session_end locks it: an upload either commits before the end (and the
        # final analysis sees it) or finds the session ended; never stored and then left unread.
        locked = session_upload_locked(session.pk)  # its status and config, as one statement written once
        if locked is None:
            raise ProctoringSession.DoesNotExist("the session is gone")
        if locked.status != ProctoringSession.Status.ACTIVE:
            raise SessionEnded()
        # The items stored per kind and, in the same query, how many of them carry one of the
        # batch's seqs: only then (a batch sent again) are the stored ones looked up by seq.
        kinds, seqs = {i.kind for i in items}, {i.seq for i in items}
        stored_by_kind, clashes = {}, 0
        for kind, n, clash in _stored_counts(session.pk, kinds, seqs):
            stored_by_kind[kind] = n
            clashes += clash
        existing = (
            set(
                MediaChunk.objects.filter(session=session, kind__in=kinds, seq__in=seqs).values_list(
                    "kind", "seq"
                )
            )
            if clashes
            else set()
        )
        new_by_kind = Counter(item.kind for item in items if (item.kind, item.seq) not in existing)
        for kind, new in new_by_kind.items():
            stored = stored_by_kind.get(kind, 0)
            if stored + new > session_media_limit(locked, kind):
                raise MediaTooLarge(
                    f"This session has stored all the {kind} items an exam of its length can have.",
                    details={
                        "kind": kind,
                        "reason": "session limit",
                        "limit": session_media_limit(locked, kind),
                    },
                )
        new_recording = sum(
            len(item.data)
            for item in items
            if item.kind == "recording" and ("recording", item.seq) not in existing
        )
        if new_recording:
            stored_bytes = (
                MediaChunk.objects.filter(session=session, kind=MediaChunk.Kind.RECORDING).aggregate(
                    total=Sum("size")
                )["total"]
                or 0
            )
            if stored_bytes + new_recording > recording_byte_limit():
                raise MediaTooLarge(
                    "This session has stored all the recording it may keep.",
                    details={
                        "kind": "recording",
                        "reason": "session storage limit",
                        "limit": recording_byte_limit(),
                    },
                )
        prefix = f"{session.institution.public_id}/{session.public_id}"
        chunks: list[MediaChunk] = []
        for item in items:
            if (item.kind, item.seq) in existing:
                duplicates.append({"kind": item.kind, "seq": item.seq})
                continue
            content = pcm_to_wav(item.data) if item.kind == "audio" else item.data
            content_type = CONTENT_TYPES[item.kind]
            chunk = MediaChunk(
                institution_id=session.institution_id,
                session=session,
                kind=item.kind,
                seq=item.seq,
                captured_at=item.captured_at,
                duration_seconds=item.duration_seconds,
                content_type=content_type,
                size=len(content),
                meta={"device": "aux"} if item.kind == "aux" else item.meta,
            )
            name = f"{prefix}/{item.kind}-{item.seq:06d}.{SUFFIXES[content_type]}"
            chunk.file.save(name, ContentFile(content), save=False)
            written.append(chunk)
            chunks.append(chunk)
        stored = _rows_insert(chunks, duplicates)
        for chunk in stored:
            accepted.append({"kind": chunk.kind, "seq": chunk.seq})
            if chunk.kind == "screen":
                screen_evidence_link(session=session, chunk=chunk)
        if accepted:
            # Uploads count as a sign of life for the live dashboard's connection state.
            _seen_save(session.pk, timezone.now())
            from sessions.analysis_pipeline import session_analysis_queue

            session_analysis_queue(session)  # unless a run of it is queued and not started yet
    return accepted, duplicates
