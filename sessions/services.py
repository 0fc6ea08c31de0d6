"""Session lifecycle, browser signals and flags. Services write; selectors read."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.utils import timezone

from proctorme.errors import AttemptInUse, InvalidSignature, RateLimited, SessionEnded
from proctorme.flag_types import NOT_VIOLATIONS, SUMMARY_TYPE, flag_description
from proctorme.realtime import broadcast, institution_group, session_group
from proctorme.tasks import enqueue
from proctorme.times import client_time, iso
from sessions import signal_sql, signals
from sessions.accommodations import (
    accommodated_seconds,
    accommodation_data,
    accommodation_disabled,
    accommodation_for,
    accommodation_media,
)
from sessions.config import StartRequest, rules_apply
from sessions.models import Assessment, Candidate, Event, Flag, MediaChunk, ProctoringSession
from sessions.rows import model_rows, rows_insert_sql
from sessions.scoring import detector_settings_merge
from sessions.tokens import session_token_make
from tenants.models import WebhookEndpoint
from tenants.services import attempt_signature_verify, origin_allowed, widget_key_check

log = logging.getLogger(__name__)

# Grace after examDuration before the server ends a session on its own.
DEADLINE_GRACE = timedelta(seconds=60)


@dataclass
class StartResult:
    session: ProctoringSession
    token: str
    resumed: bool


def session_is_overdue(session: ProctoringSession, now: datetime | None = None) -> bool:
    """Past its deadline and still active; a paused session's clock is stopped (never overdue)."""
    return bool(
        session.status == ProctoringSession.Status.ACTIVE
        and session.paused_at is None
        and session.deadline_at
        and session.deadline_at <= (now or timezone.now())
    )


def session_start(*, request: StartRequest, origin: str | None, client_ip: str | None = None) -> StartResult:
    """Create the session for this attempt, or resume it while it is active.

    Raises INVALID_API_KEY / ORIGIN_REQUIRED / DOMAIN_NOT_REGISTERED (key and
    origin), INVALID_ATTEMPT_SIGNATURE (AutoProctor HMAC, a wrong Eye
    ``attemptSignature``, or none where the institution requires one),
    ATTEMPT_IN_USE (a resume that is neither signed nor from the browser that
    created the session) or SESSION_ENDED.

    The key, the attempt's ids and the ``Origin`` header are all public or
    forgeable, so none of them lets anyone resume a running session: only the
    widget's resume secret (chosen by the browser that created it) or an
    attempt signed by the integrator's server does.

    ``client_ip`` (proctorme.ops.client_address) is kept and compared only with
    multiSessionAttempt: a resume from another address is flagged, never refused.
    """
    api_key = widget_key_check(key=request.api_key, origin=origin)
    institution = api_key.institution
    signed = _attempt_signature_check(institution=institution, request=request)
    return session_start_for_institution(
        institution=institution,
        request=request,
        origin=origin,
        signed=signed,
        api_key=api_key,
        client_ip=client_ip,
    )


def session_start_for_institution(
    *, institution, request: StartRequest, origin: str, signed: bool, api_key=None, client_ip=None
) -> StartResult:
    """Start or resume once the caller has established the institution (key and origin, or an LMS
    launch); ``signed`` says the attempt is vouched for by a server (which allows a resume)."""
    overdue = ProctoringSession.objects.filter(
        institution=institution, attempt_id=request.attempt_id, status=ProctoringSession.Status.ACTIVE
    ).first()
    if overdue is not None and session_is_overdue(overdue):
        session_end(session=overdue, reason="time_up")
    for _ in range(3):
        try:
            return _session_start_or_resume(
                institution=institution,
                request=request,
                origin=origin,
                signed=signed,
                api_key=api_key,
                client_ip=client_ip,
            )
        except IntegrityError:
            # Two inits for one attempt raced; the loser resumes the winner's session.
            continue
        except MultipleSessionsRefused as refused:
            # The refusal rolled the resume back; the flag is recorded on its own.
            with transaction.atomic():
                session = ProctoringSession.objects.select_for_update().get(pk=refused.session_pk)
                _multi_session_flag(session, origin=refused.origin, now=timezone.now(), refused=True)
            raise
    raise RuntimeError("could not start or resume the session")


def _new_session_quota_take(institution) -> None:
    """At most PROCTORME_NEW_SESSIONS_PER_MINUTE new sessions per institution and minute.

    The publishable key is public, so anyone can start sessions with it (and with them
    candidates and assessments, which inflate the usage figures): a fixed-window counter
    in the cache bounds how fast. A resume is not counted.
    """
    from django.conf import settings
    from django.core.cache import cache

    limit = settings.PROCTORME_NEW_SESSIONS_PER_MINUTE
    window = int(timezone.now().timestamp() // 60)
    key = f"quota:new-sessions:{institution.pk}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=120)
        used = 1
    if used > limit:
        raise RateLimited(
            "Too many new sessions for this institution; try again in a minute.",
            details={"limit": limit, "per": "minute"},
        )


def _attempt_signature_check(*, institution, request: StartRequest) -> bool:
    """Verify the attempt's server signature; True when the attempt is signed."""
    if request.dialect == ProctoringSession.Dialect.AUTOPROCTOR:
        attempt_signature_verify(
            institution=institution,
            attempt_id=request.settings["testAttemptId"],
            signature=request.attempt_signature,
        )
        return True
    if request.attempt_signature:
        attempt_signature_verify(
            institution=institution, attempt_id=request.attempt_id, signature=request.attempt_signature
        )
        return True
    if institution.require_signed_attempts:
        raise InvalidSignature(
            "This institution requires attempts signed by its server (attemptSignature).",
            details={"fields": {"attemptSignature": "This field is required."}},
        )
    return False


def _resume_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest() if secret else ""


def _another_browser(session: ProctoringSession, *, request: StartRequest) -> bool:
    """A resume without the resume secret of the browser that created the session."""
    given = _resume_digest(request.resume_secret)
    return not (given and session.resume_digest and hmac.compare_digest(given, session.resume_digest))


class MultipleSessionsRefused(AttemptInUse):
    """multiSessionAttempt with the "refuse" policy; carries the session to flag after the rollback."""

    def __init__(self, session_pk: int, origin: str):
        super().__init__("This attempt is already open in another browser or device.")
        self.session_pk, self.origin = session_pk, origin


def _multi_session_detected(session: ProctoringSession, *, origin: str, now: datetime) -> None:
    """AutoProctor's multiSessionAttempt: flag a second browser or device; refuse it if so configured."""
    if not session.config.get("tracking", {}).get("multiSessionAttempt"):
        return
    if session.config.get("multiSessionAttemptPolicy") == "refuse":
        raise MultipleSessionsRefused(session.pk, origin)
    _multi_session_flag(session, origin=origin, now=now, refused=False)


def _multi_session_flag(session: ProctoringSession, *, origin: str, now: datetime, refused: bool) -> None:
    flag_record(
        session=session,
        type="MULTIPLE_SESSIONS",
        episode_key=f"multi:{now.isoformat()}",
        started_at=now,
        ended_at=now,
        payload={"origin": origin, "refused": refused},
    )


def _multi_session_ip_check(session: ProctoringSession, *, client_ip, origin: str, now: datetime) -> bool:
    """multiSessionAttempt, the attempt's own browser resuming: flag a change of address.

    Never refused: a candidate's network changes (wifi to mobile, a VPN) without anyone
    else taking the attempt; the reviewer judges. True when the address is to be recorded.
    """
    if not session.config.get("tracking", {}).get("multiSessionAttempt") or not client_ip:
        return False
    if session.client_ip and session.client_ip != client_ip:
        flag_record(
            session=session,
            type="MULTIPLE_SESSIONS",
            episode_key=f"multi-ip:{now.isoformat()}",
            started_at=now,
            ended_at=now,
            payload={"origin": origin, "refused": False, "reason": "ip_changed"},
        )
    return session.client_ip != client_ip


def _may_resume(session: ProctoringSession, *, request: StartRequest, signed: bool) -> bool:
    return signed or not _another_browser(session, request=request)


@transaction.atomic
def _session_start_or_resume(
    *, institution, request: StartRequest, origin: str, signed: bool, api_key, client_ip=None
) -> StartResult:
    now = timezone.now()
    existing = (
        ProctoringSession.objects.select_for_update()
        .filter(institution=institution, attempt_id=request.attempt_id)
        .first()
    )
    if existing is not None:
        if existing.status != ProctoringSession.Status.ACTIVE or session_is_overdue(existing, now):
            raise SessionEnded(details={"endedAt": iso(existing.ended_at), "reason": existing.end_reason})
        if not _may_resume(existing, request=request, signed=signed):
            raise AttemptInUse()
        fields = ["origin", "last_seen_at"]
        if _another_browser(existing, request=request):
            _multi_session_detected(existing, origin=origin, now=now)
        elif _multi_session_ip_check(existing, client_ip=client_ip, origin=origin, now=now):
            existing.client_ip = client_ip
            fields.append("client_ip")
        existing.origin = origin
        existing.last_seen_at = now
        existing.save(update_fields=fields)
        _event_server(existing, "RESUMED", {"origin": origin})
        transaction.on_commit(
            lambda: signals.session_started.send(sender=ProctoringSession, session=existing, resumed=True)
        )
        token = session_token_make(session=existing, origin=origin, api_key=api_key)
        return StartResult(existing, token, True)

    _new_session_quota_take(institution)
    with transaction.atomic():
        assessment, _ = Assessment.objects.get_or_create(
            institution=institution,
            external_id=request.assessment_id,
            # No duration from the page: only the institution (API, admin) sets an assessment's rules.
            defaults={"title": request.assessment_title},
        )
        if assessment.archived_at:
            raise SessionEnded(
                "This assessment is archived.", details={"assessmentId": request.assessment_id}
            )
        candidate, created = Candidate.objects.get_or_create(
            institution=institution,
            external_id=request.candidate_id,
            defaults={
                "email": request.candidate_email,
                "first_name": request.candidate_first_name,
                "last_name": request.candidate_last_name,
                "image_url": request.candidate_image_url,
            },
        )
        if not created:
            candidate.email = request.candidate_email or candidate.email
            candidate.first_name = request.candidate_first_name or candidate.first_name
            candidate.last_name = request.candidate_last_name or candidate.last_name
            candidate.image_url = request.candidate_image_url or candidate.image_url
            candidate.save()
        accommodation = accommodation_data(accommodation_for(candidate=candidate, assessment=assessment))
        exam_seconds = rules_apply(
            request,
            disabled=set(detector_settings_merge(institution, assessment)["disabled"])
            | accommodation_disabled(accommodation),
            assessment_seconds=assessment.duration_seconds,
        )
        exam_seconds = accommodated_seconds(exam_seconds, accommodation)
        _accommodation_apply(request.settings, accommodation)
        request.settings["warnings"] = (
            institution.candidate_warnings
            if assessment.candidate_warnings is None
            else assessment.candidate_warnings
        )
        if request.settings["warnings"]:
            # Warnings come from the analysis of uploaded frames: upload them often enough that
            # the candidate hears of a problem within a few seconds (the bytes are the same).
            capture = request.settings["capture"]
            capture["uploadIntervalMs"] = min(capture["uploadIntervalMs"], WARNING_UPLOAD_INTERVAL_MS)
        session = ProctoringSession.objects.create(
            institution=institution,
            assessment=assessment,
            candidate=candidate,
            attempt_id=request.attempt_id,
            dialect=request.dialect,
            resume_digest=_resume_digest(request.resume_secret),
            origin=origin,
            client_ip=client_ip if request.settings["tracking"].get("multiSessionAttempt") else None,
            config={**request.settings, "examSeconds": exam_seconds},
            deadline_at=now + timedelta(seconds=exam_seconds) + DEADLINE_GRACE,
            last_seen_at=now,
        )
    _event_server(session, "SESSION_CREATED", {"origin": origin, "dialect": request.dialect})
    from sessions.tasks import session_expire_task

    enqueue(
        session_expire_task,
        str(session.public_id),
        countdown=(session.deadline_at - now).total_seconds() + 1,
    )
    transaction.on_commit(
        lambda: signals.session_started.send(sender=ProctoringSession, session=session, resumed=False)
    )
    _publish_institution(
        session, {"type": "session", "event": "started", "session": session_summary(session)}
    )
    return StartResult(session, session_token_make(session=session, origin=origin, api_key=api_key), False)


WARNING_UPLOAD_INTERVAL_MS = 2000


def _accommodation_apply(settings: dict, accommodation: dict | None) -> None:
    """Record the candidate's accommodation on the session and leave out the devices it exempts."""
    media = accommodation_media(accommodation)
    settings["accommodation"] = accommodation
    settings["media"] = media
    tracking = settings["tracking"]
    if not media["microphone"]:
        tracking["audio"] = False
    if not media["camera"]:
        tracking.update(numHumans=False, photosAtRandom=False, impersonation=False, testTakerPhoto=False)
        tracking["showCamPreview"] = False
        settings["features"]["facialRecognition"] = False
    if not media["camera"] and not media["microphone"]:
        settings["features"]["aiProctoring"] = False


def _event_server(session: ProctoringSession, type_: str, payload: dict | None = None) -> Event:
    return Event.objects.create(
        institution_id=session.institution_id,
        session=session,
        type=type_,
        source=Event.Source.SERVER,
        started_at=timezone.now(),
        payload=payload or {},
    )


def session_summary(session: ProctoringSession) -> dict:
    return {
        "sessionId": str(session.public_id),
        "status": session.status,
        "candidateId": session.candidate.external_id,
        "examId": session.assessment.external_id,
        "startedAt": iso(session.started_at),
        "deadlineAt": iso(session.deadline_at),
        "endedAt": iso(session.ended_at),
        "trustScore": session.trust_score,
    }


# While signals_record runs: the flags it raises for each session, handed back to the socket
# that sent the signal (it is that session's widget) instead of a fan-out through the channel layer.
_widget_flags: ContextVar[dict[int, list[dict]] | None] = ContextVar("_widget_flags", default=None)


def _publish_session(session: ProctoringSession, message: dict) -> None:
    collected = _widget_flags.get()
    if collected is not None and message.get("type") == "flag" and session.pk in collected:
        collected[session.pk].append(message)
        return
    group = session_group(session.public_id)
    transaction.on_commit(lambda: broadcast(group, {"type": "session.message", "message": message}))


# While signals_record runs: the dashboards' messages per institution group, sent after the
# commit as one channel-layer message per group for the whole batch (institution.messages).
_institution_batch: ContextVar[dict[str, list[dict]] | None] = ContextVar("_institution_batch", default=None)
# While signals_record runs: each locked session's flag types counted towards the summary flag,
# loaded once for the batch so a new flag needs no query to know whether its type is new.
_flag_types_known: ContextVar[dict[int, set[str]] | None] = ContextVar("_flag_types_known", default=None)
# While signals_record runs: the batch's new flags not inserted yet (with the message data that
# names their created_at), inserted with one INSERT before any query that could look for them
# and at the end of the batch, inside its transaction.
_flags_unsaved: ContextVar[list[tuple[Flag, dict | None]] | None] = ContextVar("_flags_unsaved", default=None)


def _flags_insert() -> None:
    """Insert the batch's new flags still unsaved, in one INSERT (one per flag before)."""
    unsaved = _flags_unsaved.get()
    if not unsaved:
        return
    flags = [flag for flag, _ in unsaved]
    if connection.vendor == "postgresql":
        # One statement text for any number of flags (sessions.signal_sql); each row's id is
        # matched to its flag by the row's public_id, whatever order the rows come back in.
        conn = connections[DEFAULT_DB_ALIAS]
        sql, rows = signal_sql.rows_insert(Flag, flags)
        quote = conn.ops.quote_name
        returning = f"{quote(Flag._meta.pk.column)}, {quote(Flag._meta.get_field('public_id').column)}"
        with signal_sql.cursor(conn) as cursor:
            cursor.execute(f"{sql} RETURNING {returning}", [rows])
            ids = {str(public_id): pk for pk, public_id in cursor.fetchall()}
        for flag in flags:
            flag.pk = ids[str(flag.public_id)]
            flag._state.adding, flag._state.db = False, conn.alias
    else:  # the embedded default (SQLite): the ORM's own INSERT
        Flag.objects.bulk_create(flags)
    for flag, data in unsaved:
        if data is not None:  # the pushed message was built before the row: it gets the row's time
            data["createdAt"] = iso(flag.created_at)
        transaction.on_commit(
            lambda flag=flag: signals.flag_created.send(sender=ProctoringSession, flag=flag)
        )
    unsaved.clear()


def _publish_institution(session: ProctoringSession, message: dict) -> None:
    group = institution_group(session.institution.public_id)
    message = {**message, "sessionId": str(session.public_id)}
    batch = _institution_batch.get()
    if batch is not None:
        batch.setdefault(group, []).append(message)
        return
    body = {"type": "institution.message", "message": message}
    transaction.on_commit(lambda: broadcast(group, body))


def _institution_batch_send(batch: dict[str, list[dict]]) -> None:
    for group, messages in batch.items():
        if len(messages) == 1:
            broadcast(group, {"type": "institution.message", "message": messages[0]})
        else:
            broadcast(group, {"type": "institution.messages", "messages": messages})


def session_event_record(session: ProctoringSession, type_: str, payload: dict | None = None) -> Event:
    """A server event on the session's timeline (live intervention, warnings)."""
    return _event_server(session, type_, payload)


def session_push(session: ProctoringSession, message: dict) -> None:
    """Send ``message`` to the session's widget, once the transaction commits."""
    _publish_session(session, message)


def session_push_live(session: ProctoringSession, message: dict) -> None:
    """Send ``message`` to the live dashboards of the session's institution, once it commits."""
    _publish_institution(session, message)


def session_end_notice(session_id: int) -> dict:
    """The ``ended`` message for a widget that learns of its session's end late (a signal or a
    reconnect after it): the reason, time and proctor's message the end itself pushed, so a
    page told by either path reports the same end ("terminated" with its reason, not "ended")."""
    session = ProctoringSession.objects.filter(pk=session_id).only("ended_at", "end_reason").first()
    if session is None or session.ended_at is None:
        return {"type": "ended", "reason": "ended"}
    notice = {"type": "ended", "reason": session.end_reason or "ended", "endedAt": iso(session.ended_at)}
    said = (
        Event.objects.filter(session_id=session_id, type="END_PROCTORING", source=Event.Source.SERVER)
        .order_by("-pk")
        .values_list("payload", flat=True)
        .first()
    )
    if isinstance(said, dict) and said.get("message"):
        notice["message"] = said["message"]
    return notice


def session_end(*, session: ProctoringSession, reason: str = "ended", message: str = "") -> ProctoringSession:
    """End the session once (idempotent); final analysis runs in the background."""
    with transaction.atomic():
        locked = ProctoringSession.objects.select_for_update().get(pk=session.pk)
        _session_end_locked(locked, reason=reason, message=message)
    return locked


def _session_end_locked(session: ProctoringSession, *, reason: str, message: str = "") -> None:
    """End a locked active session; ``message`` is a proctor's reason for terminating it."""
    if session.status != ProctoringSession.Status.ACTIVE:
        return
    now = timezone.now()
    end = min(now, session.deadline_at) if reason == "time_up" and session.deadline_at else now
    session.status = ProctoringSession.Status.FINALISING
    session.ended_at = end
    session.end_reason = reason
    fields = ["status", "ended_at", "end_reason"]
    if session.paused_at is not None:
        # Ended while paused: the pause counts up to the end, and is over.
        session.paused_seconds += max((end - session.paused_at).total_seconds(), 0.0)
        session.paused_at = None
        fields += ["paused_seconds", "paused_at"]
    session.save(update_fields=fields)
    for flag in Flag.objects.filter(session=session, ended_at__isnull=True):
        _flag_close(flag, end)
    said = {"message": message} if message else {}
    _event_server(session, "END_PROCTORING", {"reason": reason, **said})
    _publish_session(session, {"type": "ended", "reason": reason, "endedAt": iso(end), **said})
    _publish_institution(session, {"type": "session", "event": "ended", "session": session_summary(session)})
    from sessions.tasks import session_finalise_task

    enqueue(session_finalise_task, str(session.public_id))


def sessions_expire_overdue(*, now: datetime | None = None) -> int:
    """End every active session whose examDuration (plus grace) has passed."""
    now = now or timezone.now()
    overdue = ProctoringSession.objects.filter(
        status=ProctoringSession.Status.ACTIVE, deadline_at__lte=now, paused_at__isnull=True
    )
    count = 0
    for session in overdue.iterator():
        with transaction.atomic():
            locked = ProctoringSession.objects.select_for_update().get(pk=session.pk)
            if session_is_overdue(locked, now):
                _session_end_locked(locked, reason="time_up")
                count += 1
    return count


def session_origin_allowed(*, session: ProctoringSession, origin: str | None) -> bool:
    """May a page on ``origin`` use this session? A registered domain of its institution — or, for a
    session started from our own LMS tool page, exactly the origin it was started from."""
    if session.config.get("launch") == "lti":
        return bool(origin) and origin == session.origin
    return origin_allowed(institution=session.institution, origin=origin)


# --- flags -----------------------------------------------------------------


def flag_data(flag: Flag, *, absolute_urls: bool = True) -> dict:
    """Eye by Proctorme's FlagData, plus our id, span and evidence URL.

    The widget gets the evidence link relative to the server (it resolves it
    against the script's own origin, so a SITE_URL that does not match how the
    browser reaches us cannot break it); webhooks and the API get it absolute.
    """
    session = flag.session
    media_url = None
    if flag.evidence_id:
        from sessions.media import media_signed_url

        media_url = media_signed_url(flag.evidence, absolute=absolute_urls)
    return {
        "flagId": str(flag.public_id),
        "examId": session.assessment.external_id,
        "candidateId": session.candidate.external_id,
        "type": flag.type,
        "description": flag.description,
        "createdAt": iso(flag.created_at),
        "startedAt": iso(flag.started_at),
        "endedAt": iso(flag.ended_at),
        "durationSeconds": round(flag.duration_seconds, 3),
        "mediaUrl": media_url,
        **({"details": flag.payload} if flag.payload else {}),
    }


def flag_record(
    *,
    session: ProctoringSession,
    type: str,
    episode_key: str,
    started_at: datetime,
    ended_at: datetime | None = None,
    description: str = "",
    evidence=None,
    payload: dict | None = None,
    notify: bool = True,
    known_new: bool = False,
) -> tuple[Flag, bool]:
    """Store one flag per episode; recording the same episode again updates it.

    ``known_new`` skips the lookup when the caller already knows the episode is
    new (a browser signal's flag, keyed by its freshly stored seq).
    """
    duration = (ended_at - started_at).total_seconds() if ended_at else 0.0
    # What a new flag of this episode holds, however it is stored.
    fields = {
        "institution_id": session.institution_id,
        "started_at": started_at,
        "ended_at": ended_at,
        "duration_seconds": max(duration, 0.0),
        "description": description or flag_description(type),
        "evidence": evidence,
        "payload": payload or {},
    }
    unsaved = _flags_unsaved.get() if known_new else None
    if unsaved is not None:
        # Inside a batch of signals: inserted with the batch's other new flags (_flags_insert).
        flag = Flag(session=session, type=type, episode_key=episode_key, created_at=timezone.now(), **fields)
        data = _flag_publish(flag) if notify else None
        unsaved.append((flag, data))
        _suspicious_activity_check(flag)
        return flag, True
    if known_new:
        flag = Flag.objects.create(session=session, type=type, episode_key=episode_key, **fields)
        if notify:
            _flag_publish(flag)
        transaction.on_commit(lambda: signals.flag_created.send(sender=ProctoringSession, flag=flag))
        _suspicious_activity_check(flag)
        return flag, True
    # One statement: the episode's row inserted, or, when it is stored, updated where it
    # changed (get_or_create was a SELECT, then a savepoint, an INSERT and its release, or a
    # whole-row UPDATE: the analysis records and closes its episodes 100-200 times an hour).
    flag = Flag(session=session, type=type, episode_key=episode_key, **fields)
    stored = _flag_upsert(flag, evidence=evidence is not None, payload=payload is not None)
    if stored is None:  # stored already, and nothing changed
        return Flag.objects.get(session=session, type=type, episode_key=episode_key), False
    stored.session = session
    if evidence is not None and stored.evidence_id == evidence.pk:
        stored.evidence = evidence  # as given, not read again when the flag is published
    if stored.public_id != flag.public_id:  # the stored row, updated
        transaction.on_commit(lambda: signals.flag_updated.send(sender=ProctoringSession, flag=stored))
        return stored, False
    flag = stored
    if notify:
        _flag_publish(flag)
    transaction.on_commit(lambda: signals.flag_created.send(sender=ProctoringSession, flag=flag))
    _suspicious_activity_check(flag)
    return flag, True


_FLAG_COLUMNS = tuple(f.name for f in Flag._meta.concrete_fields)
_flag_upsert_sql: dict[tuple, str] = {}


def _flag_upsert(flag: Flag, *, evidence: bool, payload: bool) -> Flag | None:
    """``flag`` (a new episode's row) inserted, or the stored row of its episode (session,
    type, episode_key) updated to its times, and to its evidence and payload when ``evidence``
    and ``payload`` say they were given: ``INSERT … ON CONFLICT … DO UPDATE … WHERE`` (the
    row changed) ``RETURNING``, on PostgreSQL and SQLite alike. Returns the row as stored now
    (its ``public_id`` is ``flag``'s when it was inserted), or None when it was stored and
    nothing changed (no row is written then)."""
    key = (connection.vendor, evidence, payload)
    tail = _flag_upsert_sql.get(key)
    if tail is None:
        meta = Flag._meta
        quote = connection.ops.quote_name
        table = quote(meta.db_table)
        # Null-safe "differs": both have it; SQLite's older spelling is IS NOT.
        differs = "IS NOT" if connection.vendor == "sqlite" else "IS DISTINCT FROM"
        names = ["started_at", "ended_at", "duration_seconds"]
        names += ["evidence"] * evidence + ["payload"] * payload
        columns = [quote(meta.get_field(name).column) for name in names]
        changed = [c for c in columns if c != quote("duration_seconds")]  # it follows the times
        unique = ", ".join(quote(meta.get_field(n).column) for n in ("session", "type", "episode_key"))
        # Only the model's own table and column names are formatted in; the values are parameters.
        tail = _flag_upsert_sql[key] = (
            f" ON CONFLICT ({unique}) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in columns)
            + " WHERE "
            + " OR ".join(f"{table}.{c} {differs} excluded.{c}" for c in changed)
            + " RETURNING "
            + ", ".join(quote(meta.get_field(name).column) for name in _FLAG_COLUMNS)
        )
    insert, params = rows_insert_sql(Flag, [flag])
    rows = model_rows(insert + tail, params, Flag, _FLAG_COLUMNS)
    return rows[0] if rows else None


SUSPICIOUS_AFTER_TYPES = 5
# The summary is raised from the other violations and is not one of the five.
_NOT_COUNTED_FOR_SUMMARY = NOT_VIOLATIONS | {SUMMARY_TYPE}


def _suspicious_activity_check(flag: Flag) -> None:
    """Eye's SUSPICIOUS_ACTIVITY: raised once, when a fifth distinct violation type appears."""
    if flag.type in _NOT_COUNTED_FOR_SUMMARY:
        return
    session = flag.session
    known = _flag_types_known.get()
    if known is not None and session.pk in known:
        if flag.type in known[session.pk]:
            return  # not a new type: the count of types did not change
        known[session.pk].add(flag.type)
        types = sorted(known[session.pk])
    else:
        if Flag.objects.filter(session=session, type=flag.type).exclude(pk=flag.pk).exists():
            return  # not a new type: the count of types did not change
        types = sorted(
            set(
                Flag.objects.filter(session=session)
                .exclude(type__in=_NOT_COUNTED_FOR_SUMMARY)
                .values_list("type", flat=True)
            )
        )
    if len(types) < SUSPICIOUS_AFTER_TYPES:
        return
    flag_record(
        session=session,
        type=SUMMARY_TYPE,
        episode_key="five-violation-types",
        started_at=flag.started_at,
        ended_at=flag.started_at,
        description=f"{len(types)} different kinds of violation in one session: {', '.join(types)}.",
        payload={"types": types},
    )


def _flag_publish(flag: Flag) -> dict:
    """The flag to its widget and its institution's dashboards; the data both messages share."""
    data = flag_data(flag, absolute_urls=False)
    _publish_session(flag.session, {"type": "flag", "flag": data})
    _publish_institution(flag.session, {"type": "flag", "flag": data})
    return data


def _flag_close(flag: Flag, at: datetime) -> None:
    flag.ended_at = max(at, flag.started_at)
    flag.duration_seconds = (flag.ended_at - flag.started_at).total_seconds()
    flag.save(update_fields=["ended_at", "duration_seconds"])
    transaction.on_commit(lambda: signals.flag_updated.send(sender=ProctoringSession, flag=flag))


def _open_flag(session, type_: str) -> Flag | None:
    unsaved = _flags_unsaved.get()
    if unsaved and any(f.session_id == session.pk and f.type == type_ for f, _ in unsaved):
        _flags_insert()  # this batch opened one: it is looked for with the others
    return (
        Flag.objects.filter(session=session, type=type_, ended_at__isnull=True)
        .order_by("-started_at")
        .first()
    )


# --- browser signals ---------------------------------------------------------


@dataclass
class SignalResult:
    stored: bool
    duplicate: bool
    ended: bool = False
    # Messages for the widget that sent the signal (its new flags), to send after the ack.
    pushes: tuple[dict, ...] = ()


# Sequence numbers a client may use: JavaScript's safe integers, well inside the bigint columns.
MAX_SEQ = 2**53 - 1


MAX_PAYLOAD_DEPTH = 6


def payload_problem(value, depth: int = 0) -> str | None:
    """Why a browser signal's payload cannot be stored, or None.

    PostgreSQL's jsonb refuses NUL (``\u0000``) anywhere in it, and deep nesting has no
    use in a signal and only costs recursion later.
    """
    if depth > MAX_PAYLOAD_DEPTH:
        return f"payload is nested more than {MAX_PAYLOAD_DEPTH} levels deep."
    if isinstance(value, str):
        return "payload must not contain NUL characters." if "\x00" in value else None
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        problem = payload_problem(item, depth + 1)
        if problem:
            return problem
    return None


def signal_record(
    *, session_id: int, seq: int, event: str, at=None, payload: dict | None = None
) -> SignalResult:
    """Store one browser signal (idempotent on ``seq``) and derive its flags.

    A duplicate of a stored signal is reported as such (and acknowledged again
    by the caller), even after the session ended; a new signal after the end
    is not stored (``ended``).
    """
    payload = payload or {}
    now = timezone.now()
    with transaction.atomic():
        # of=("self",): lock the session row only, not its assessment, candidate
        # and institution rows, which every other session of theirs shares.
        session = (
            ProctoringSession.objects.select_for_update(of=("self",))
            .select_related("assessment", "candidate", "institution")
            .get(pk=session_id)
        )
        # last_client_seq is the highest stored seq, so only a seq at or below it can be a duplicate.
        if seq <= session.last_client_seq and Event.objects.filter(session=session, client_seq=seq).exists():
            return SignalResult(stored=False, duplicate=True)
        if session_is_overdue(session, now):
            _session_end_locked(session, reason="time_up")
        if session.status != ProctoringSession.Status.ACTIVE:
            return SignalResult(stored=False, duplicate=False, ended=True)
        when = client_time(at, now)
        ended_at = None
        if event == "CONNECTION_LOST":
            start = client_time(payload.get("offlineFrom"), now)
            ended_at = max(client_time(payload.get("offlineTo"), now), start)
            when = start
        Event.objects.create(
            institution_id=session.institution_id,
            session=session,
            type=event,
            source=Event.Source.BROWSER,
            client_seq=seq,
            started_at=when,
            ended_at=ended_at,
            payload=payload,
        )
        session.last_client_seq = max(session.last_client_seq, seq)
        session.last_seen_at = now
        session.save(update_fields=["last_client_seq", "last_seen_at"])
        # While a proctor has paused the session, the candidate is on a break: nothing flags.
        flagged = session.paused_at is None and _derive_flags(
            session, seq=seq, event=event, when=when, ended_at=ended_at, payload=payload
        )
        if event == "MESSAGE_ACKNOWLEDGED":
            _publish_institution(
                session,
                {"type": "message_ack", "messageId": str(payload.get("messageId", ""))[:64], "at": iso(when)},
            )
        elif not flagged:
            # A new flag already reaches the live dashboard (and says the candidate is there).
            _publish_institution(
                session, {"type": "signal", "event": event, "seq": seq, "at": iso(when), "payload": payload}
            )
    return SignalResult(stored=True, duplicate=False)


@dataclass(frozen=True)
class BrowserSignal:
    """One signal as the widget's socket received it (already validated by the consumer)."""

    session_id: int
    seq: int
    event: str
    at: object = None
    payload: dict | None = None
    # The socket's session as it signed in, with its assessment, candidate and institution rows:
    # a batch takes those from it instead of joining them to the locked session rows again (its
    # signals never change them; the session's own row is always read fresh, under its lock).
    signed_in: ProctoringSession | None = field(default=None, compare=False, repr=False)


def signals_record(signals_in: list[BrowserSignal]) -> list[SignalResult]:
    """Store a batch of browser signals in one transaction; one result per signal, in order.

    The same rules as ``signal_record`` for each signal (idempotent on the
    session's ``seq``, a duplicate acknowledged again even after the end, no new
    signal stored after it), with the per-transaction work done once for the
    whole batch: the sessions are locked in one query (in primary-key order, so
    two batches never deadlock), only sequence numbers at or below a session's
    ``last_client_seq`` are looked up as possible duplicates (one query), the
    new events, the sessions' ``last_client_seq`` and ``last_seen_at`` and the
    read of their flag types go in one statement, and the new flags in one
    multi-row INSERT, both written out as SQL (``_events_store``). A repeat of a seq inside the batch is a
    duplicate of the first. Flags are derived per signal, in arrival order; a new
    flag goes to the dashboards as always, and to the widget in the signal's
    result (``pushes``: its socket sends them after the ack) rather than through
    the channel layer.
    """
    if not signals_in:
        return []
    from sessions.webhooks import endpoints_memo

    fanout: dict[str, list[dict]] = {}
    fanout_token = _institution_batch.set(fanout)
    try:
        # The memo covers the commit hooks too: each institution's webhook endpoints looked up once.
        with endpoints_memo():
            return _signals_record(signals_in, fanout)
    finally:
        _institution_batch.reset(fanout_token)


def _signals_record(signals_in: list[BrowserSignal], fanout: dict[str, list[dict]]) -> list[SignalResult]:
    from sessions.webhooks import endpoints_known

    now = timezone.now()
    results: list[SignalResult | None] = [None] * len(signals_in)
    with transaction.atomic():
        # After the commit, one channel-layer message per institution for the whole batch.
        transaction.on_commit(lambda: _institution_batch_send(fanout))
        wanted = sorted({x.session_id for x in signals_in})
        signed_in = {x.session_id: x.signed_in for x in signals_in if x.signed_in is not None}
        if len(signed_in) < len(wanted):  # a caller that has not loaded them: joined, as always
            sessions = {
                s.pk: s
                for s in ProctoringSession.objects.select_for_update(of=("self",))
                .select_related("assessment", "candidate", "institution")
                .filter(pk__in=wanted)
                .order_by("pk")
            }
        else:
            sessions = _sessions_lock(wanted)
            for pk, row in sessions.items():
                known = signed_in[pk]
                row.assessment, row.candidate, row.institution = (
                    known.assessment,
                    known.candidate,
                    known.institution,
                )
        for session in sessions.values():
            if session_is_overdue(session, now):
                _session_end_locked(session, reason="time_up")
        # Possible duplicates: a seq the session may already hold, i.e. at or below its highest.
        maybe_stored = [
            x
            for x in signals_in
            if x.session_id in sessions and x.seq <= sessions[x.session_id].last_client_seq
        ]
        stored: set[tuple[int, int]] = set()
        if maybe_stored:
            stored = set(
                Event.objects.filter(
                    session_id__in={x.session_id for x in maybe_stored},
                    client_seq__in={x.seq for x in maybe_stored},
                ).values_list("session_id", "client_seq")
            )
        fresh: list[tuple[int, BrowserSignal, datetime, datetime | None]] = []
        for i, x in enumerate(signals_in):
            session = sessions.get(x.session_id)
            if session is None:
                results[i] = SignalResult(stored=False, duplicate=False, ended=True)
            elif (x.session_id, x.seq) in stored:
                results[i] = SignalResult(stored=False, duplicate=True)
            elif session.status != ProctoringSession.Status.ACTIVE:
                results[i] = SignalResult(stored=False, duplicate=False, ended=True)
            else:
                stored.add((x.session_id, x.seq))  # a repeat later in this batch is a duplicate
                payload = x.payload or {}
                when, ended_at = client_time(x.at, now), None
                if x.event == "CONNECTION_LOST":
                    when = client_time(payload.get("offlineFrom"), now)
                    ended_at = max(client_time(payload.get("offlineTo"), now), when)
                fresh.append((i, x, when, ended_at))
        if not fresh:
            return results  # type: ignore[return-value]
        events = [
            Event(
                institution_id=sessions[x.session_id].institution_id,
                session_id=x.session_id,
                type=x.event,
                source=Event.Source.BROWSER,
                client_seq=x.seq,
                started_at=when,
                ended_at=ended_at,
                payload=x.payload or {},
            )
            for _, x, when, ended_at in fresh
        ]
        touched = {}
        for _, x, _, _ in fresh:
            session = touched[x.session_id] = sessions[x.session_id]
            session.last_client_seq = max(session.last_client_seq, x.seq)
            session.last_seen_at = now
        # Each session's flag types so far, for the summary flag's count; read by the statement
        # that stores the events and the sessions' seqs (one round trip and statement for three).
        types_known: dict[int, set[str]] = {pk: set() for pk in touched}
        institutions = {s.institution_id for s in touched.values()}
        hooked = set()
        for what, pk, type_ in _events_store(events, list(touched.values()), institutions, now):
            if what == "flag":
                types_known[pk].add(type_)
            else:
                hooked.add(pk)
        # The commit hooks' webhooks then ask nothing more (read under the batch's transaction,
        # a few milliseconds before its commit rather than right after it).
        endpoints_known(dict.fromkeys(institutions, False) | dict.fromkeys(hooked, True))
        flags_for: dict[int, list[dict]] = {pk: [] for pk in touched}
        collecting = _widget_flags.set(flags_for)
        knowing = _flag_types_known.set(types_known)
        unsaved = _flags_unsaved.set([])
        try:
            for i, x, when, ended_at in fresh:
                session, payload = sessions[x.session_id], x.payload or {}
                mine = flags_for[x.session_id]
                before = len(mine)
                # While a proctor has paused the session, the candidate is on a break: nothing flags.
                flagged = session.paused_at is None and _derive_flags(
                    session, seq=x.seq, event=x.event, when=when, ended_at=ended_at, payload=payload
                )
                if x.event == "MESSAGE_ACKNOWLEDGED":
                    _publish_institution(
                        session,
                        {
                            "type": "message_ack",
                            "messageId": str(payload.get("messageId", ""))[:64],
                            "at": iso(when),
                        },
                    )
                elif not flagged:
                    _publish_institution(
                        session,
                        {
                            "type": "signal",
                            "event": x.event,
                            "seq": x.seq,
                            "at": iso(when),
                            "payload": payload,
                        },
                    )
                results[i] = SignalResult(stored=True, duplicate=False, pushes=tuple(mine[before:]))
            _flags_insert()
        finally:
            _flags_unsaved.reset(unsaved)
            _flag_types_known.reset(knowing)
            _widget_flags.reset(collecting)
    return results  # type: ignore[return-value]


def _sessions_lock(pks: list[int]) -> dict[int, ProctoringSession]:
    """The session rows ``pks`` locked (``FOR UPDATE``, in primary-key order, so two batches never
    deadlock) and read whole, with one statement written out here: the ORM's compilation of the
    same SELECT cost more CPU than the rest of a small batch's statements together."""
    conn = connections[DEFAULT_DB_ALIAS]
    sql, names, converters = _sessions_lock_parts(conn.vendor)
    out = {}
    # PostgreSQL takes the keys as one array, bound and prepared on the server (sessions.signal_sql);
    # the embedded default (SQLite) takes a list of them (see _sessions_lock_parts).
    if conn.vendor == "postgresql":
        opened, params = signal_sql.cursor(conn), [list(pks)]
    else:
        opened, params = conn.cursor(), list(pks)
        sql = sql.replace("(%s)", f"({', '.join(['%s'] * len(pks))})")
    with opened as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            values = list(row)
            for i, found, col in converters:  # what the ORM does to a value read (JSON, say)
                for convert in found:
                    values[i] = convert(values[i], col, conn)
            session = ProctoringSession.from_db(conn.alias, names, values)
            out[session.pk] = session
    return out


@functools.cache
def _sessions_lock_parts(vendor: str) -> tuple[str, list[str], list]:
    """The locking SELECT of _sessions_lock, the fields' names and the converters of the values
    read, worked out once per process (they depend only on the model and the database)."""
    meta = ProctoringSession._meta
    quote = connection.ops.quote_name
    fields = meta.concrete_fields
    columns = ", ".join(quote(f.column) for f in fields)
    pk = quote(meta.pk.column)
    # Only the model's own table and column names are formatted in; the values are parameters.
    # PostgreSQL takes the keys as one array (the same statement text for any number of them);
    # the embedded default (SQLite) takes a list of them, "(%s)" widened to one mark per key,
    # and has no FOR UPDATE (it lets one writer in at a time, so the transaction holds the lock).
    where = f"{pk} = ANY(%s::bigint[])" if vendor == "postgresql" else f"{pk} IN (%s)"
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {where} ORDER BY {pk}{lock}"  # noqa: S608
    names = [f.attname for f in fields]
    cols = [f.get_col(meta.db_table) for f in fields]
    converters = [
        (i, [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)], col)
        for i, col in enumerate(cols)
    ]
    return sql, names, [(i, found, col) for i, found, col in converters if found]


def _events_store(
    events: list[Event], sessions: list[ProctoringSession], institutions: set[int], now: datetime
) -> list[tuple]:
    """The batch's new events, and its sessions' last_client_seq and last_seen_at, in one
    statement, which also reads back the sessions' flag types counted towards the summary flag
    (``("flag", session_id, type)`` rows; the flags table is not written by this statement, so
    its snapshot is the same as a separate SELECT's) and which of ``institutions`` have an active
    webhook endpoint (``("hook", institution_id, None)`` rows). bulk_update would build a CASE of ORM
    expressions per row and field, which cost more CPU than the rest of a small batch."""
    if connection.vendor == "postgresql":  # one statement text for any batch (sessions.signal_sql)
        conn = connections[DEFAULT_DB_ALIAS]
        _, rows = signal_sql.rows_insert(Event, events)
        seen_at = ProctoringSession._meta.get_field("last_seen_at").get_db_prep_save(now, conn)
        with signal_sql.cursor(conn) as cursor:
            cursor.execute(
                signal_sql.events_store_sql(),
                [
                    rows,
                    seen_at,
                    [session.pk for session in sessions],
                    [session.last_client_seq for session in sessions],
                    [session.pk for session in sessions],
                    sorted(_NOT_COUNTED_FOR_SUMMARY),
                    sorted(institutions),
                ],
            )
            return cursor.fetchall()
    # The embedded default (SQLite): the same three statements, one after another.
    insert, params = rows_insert_sql(Event, events)
    meta = ProctoringSession._meta
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    seq, seen = quote(meta.get_field("last_client_seq").column), quote(meta.get_field("last_seen_at").column)
    cases = " ".join(["WHEN %s THEN %s"] * len(sessions))
    marks = ", ".join(["%s"] * len(sessions))
    flags = Flag._meta
    f_session, f_type = quote(flags.get_field("session").column), quote(flags.get_field("type").column)
    types = ", ".join(["%s"] * len(_NOT_COUNTED_FOR_SUMMARY))
    hooks = WebhookEndpoint._meta
    h_institution, h_active = (
        quote(hooks.get_field("institution").column),
        quote(hooks.get_field("is_active").column),
    )
    # Only the models' own table and column names are formatted in; the values are parameters.
    update = f"UPDATE {table} SET {seen} = %s, {seq} = CASE {pk} {cases} END WHERE {pk} IN ({marks})"  # noqa: S608
    update_params = [meta.get_field("last_seen_at").get_db_prep_save(now, connection)]
    for session in sessions:
        update_params += [session.pk, session.last_client_seq]
    update_params += [session.pk for session in sessions]
    select = (
        f"SELECT DISTINCT 'flag', {f_session}, {f_type} FROM {quote(flags.db_table)} "  # noqa: S608
        f"WHERE {f_session} IN ({marks}) AND {f_type} NOT IN ({types}) "
        f"UNION ALL SELECT DISTINCT 'hook', {h_institution}, NULL FROM {quote(hooks.db_table)} "
        f"WHERE {h_institution} IN ({', '.join(['%s'] * len(institutions))}) AND {h_active}"
    )
    select_params = [
        *(session.pk for session in sessions),
        *sorted(_NOT_COUNTED_FOR_SUMMARY),
        *sorted(institutions),
    ]
    with connection.cursor() as cursor:
        cursor.execute(insert, params)
        cursor.execute(update, update_params)
        cursor.execute(select, select_params)
        return cursor.fetchall()


def _new_flag(**fields) -> bool:
    return flag_record(known_new=True, **fields)[1]


def _derive_flags(session, *, seq: int, event: str, when: datetime, ended_at, payload: dict) -> bool:
    """Open, close or record the flags a browser signal implies; True when a new flag was recorded."""
    tracking = session.config.get("tracking", {})
    key = f"seq:{seq}"
    # AutoProctor's captureSwitchedTab: Eye pages share no screen, whatever they send.
    screen_on = session.dialect == ProctoringSession.Dialect.AUTOPROCTOR and bool(
        tracking.get("captureSwitchedTab")
    )
    if event == "TAB_FOCUS_CHANGE" and tracking.get("tabSwitch", True):
        open_flag = _open_flag(session, "TAB_NOT_FOCUS")
        if payload.get("focused") is False and open_flag is None:
            details = {"cause": payload.get("cause", "")}
            screen_seq = payload.get("screenSeq")
            evidence = None
            if screen_on and _is_seq(screen_seq):
                # The widget grabs the shared screen just after focus left and uploads it as
                # kind "screen" with this seq; whichever of the two arrives second links them.
                details["screenSeq"] = screen_seq
                evidence = MediaChunk.objects.filter(
                    session=session, kind=MediaChunk.Kind.SCREEN, seq=screen_seq
                ).first()
            return _new_flag(
                session=session,
                type="TAB_NOT_FOCUS",
                episode_key=key,
                started_at=when,
                evidence=evidence,
                payload=details,
            )
        elif payload.get("focused") is True and open_flag is not None:
            _flag_close(open_flag, when)
    elif event == "FULLSCREEN_CHANGE":
        open_flag = _open_flag(session, "EXIT_FULLSCREEN")
        if payload.get("fullscreen") is False and open_flag is None:
            return _new_flag(session=session, type="EXIT_FULLSCREEN", episode_key=key, started_at=when)
        elif payload.get("fullscreen") is True and open_flag is not None:
            _flag_close(open_flag, when)
    elif event == "MULTIPLE_SCREENS" and tracking.get("detectMultipleScreens", True):
        screens = payload.get("screens")
        if payload.get("extended") is True or (isinstance(screens, int) and screens > 1):
            return _new_flag(
                session=session,
                type="MULTIPLE_SCREENS",
                episode_key=key,
                started_at=when,
                ended_at=when,
                payload={"screens": screens},
            )
    elif event == "COPY_PASTE":
        action = payload.get("action") if payload.get("action") in {"copy", "cut", "paste"} else "copy"
        return _new_flag(
            session=session,
            type="COPY_PASTE",
            episode_key=key,
            started_at=when,
            ended_at=when,
            payload={"action": action, "blocked": payload.get("blocked") is True},
        )
    elif event == "SCREEN_NOT_SHARED" and screen_on:
        reason = payload.get("reason") if payload.get("reason") in SCREEN_SHARE_REASONS else "failed"
        code = payload.get("errorCode")
        return _new_flag(
            session=session,
            type="SCREEN_NOT_SHARED",
            episode_key=key,
            started_at=when,
            ended_at=when,
            payload={"reason": reason, "errorCode": code if _is_seq(code) else None},
        )
    elif event == "CONNECTION_LOST":
        return _new_flag(
            session=session,
            type="CONNECTION_LOST",
            episode_key=key,
            started_at=when,
            ended_at=ended_at,
        )
    return False


# Why the widget has no screen to capture (SCREEN_NOT_SHARED's reason; AutoProctor's 4011–4014, 4017).
SCREEN_SHARE_REASONS = ("denied", "failed", "unavailable", "not_entire_screen", "stopped", "unsupported")


def _is_seq(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SEQ


def screen_evidence_link(*, session: ProctoringSession, chunk) -> int:
    """A stored screen capture becomes the evidence of the TAB_NOT_FOCUS flag that named its seq."""
    flags = list(
        Flag.objects.filter(
            session=session, type="TAB_NOT_FOCUS", evidence__isnull=True, payload__screenSeq=chunk.seq
        )
    )
    for flag in flags:
        flag.evidence = chunk
        flag.save(update_fields=["evidence"])
        flag.session = session
        transaction.on_commit(
            lambda flag=flag: signals.flag_updated.send(sender=ProctoringSession, flag=flag)
        )
    return len(flags)


def media_purge_expired(*, now: datetime | None = None) -> int:
    """Delete personal data of sessions past retention (sessions.privacy); the media files deleted.

    Flags, events, scores and verdicts stay as counts; a flag's evidence link becomes empty.
    """
    from sessions.privacy import retention_purge_expired

    return retention_purge_expired(now=now)
