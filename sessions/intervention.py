"""Live intervention on a running session: message, pause, resume, terminate, extend.

One write path for every interface: the live dashboard, the REST API and LMS services
(an LTI platform's pause / resume / terminate) all call these functions. Each one

* locks the session row, so two proctors never interleave;
* refuses with a stable code unless the session runs (``SESSION_ALREADY_ENDED``), and for
  pause / resume unless it is running / paused (``SESSION_PAUSED``, ``SESSION_NOT_PAUSED``);
* records a server event on the session's timeline and an audit entry naming who did it
  (``actor`` a user, or ``actor_label`` for a machine: "API key sk_live_ab…", "LMS …");
* pushes the change to the candidate's widget and to the live dashboards once it commits.

Callers look the session up within the actor's institution first (an outsider gets a 404
before anything here runs).

While a session is paused its clock stops: it cannot run out of time
(``sessions.services.session_is_overdue``), its browser signals are kept but raise no flag,
and the widget stops capturing. Resuming moves the deadline by the time it was paused, so the
candidate loses none of their exam; ``paused_seconds`` adds the pauses up (the trust score's
exam length leaves them out).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from proctorme.errors import ProctormeError, SessionNotPaused, SessionNotRunning, SessionPaused
from proctorme.tasks import enqueue
from proctorme.times import iso
from sessions.models import AuditLogEntry, ProctoringSession
from sessions.services import session_end, session_event_record, session_push, session_push_live

MESSAGE_MAX = 1000
REASON_MAX = 500
# One extension at most adds this much (a typo of minutes as seconds stays harmless).
EXTEND_MAX_SECONDS = 6 * 3600
TERMINATED = "terminated"


class InvalidIntervention(ProctormeError):
    """A message or reason that is empty or too long (HTTP 400, ``VALIDATION_ERROR``)."""

    code = "VALIDATION_ERROR"


def _label(actor, actor_label: str) -> str:
    if actor_label:
        return actor_label[:254]
    return (getattr(actor, "email", "") or getattr(actor, "username", "") or "unknown")[:254]


def _audit(session, *, actor, actor_label: str, action: str, **details) -> AuditLogEntry:
    return AuditLogEntry.objects.create(
        institution_id=session.institution_id,
        session=session,
        candidate_id=session.candidate_id,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=_label(actor, actor_label),
        action=action,
        details=details,
    )


def _locked_running(session: ProctoringSession) -> ProctoringSession:
    locked = (
        ProctoringSession.objects.select_for_update(of=("self",))
        .select_related("institution", "assessment", "candidate")
        .get(pk=session.pk, institution_id=session.institution_id)
    )
    if locked.status != ProctoringSession.Status.ACTIVE:
        raise SessionNotRunning(details={"status": locked.status})
    return locked


def _text(value, *, name: str, limit: int, required: bool = True) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        raise InvalidIntervention(f"{name} must be text.", details={"fields": {name: "Must be text."}})
    if required and not text:
        raise InvalidIntervention(
            f"{name} is required.", details={"fields": {name: "This field is required."}}
        )
    if len(text) > limit or "\x00" in text:
        raise InvalidIntervention(
            f"{name} is too long or malformed.", details={"fields": {name: f"At most {limit} characters."}}
        )
    return text


def _live(session, event: str, **extra) -> None:
    session_push_live(
        session,
        {
            "type": "intervention",
            "event": event,
            "paused": session.paused_at is not None,
            "deadlineAt": iso(session.deadline_at),
            **extra,
        },
    )


def _reschedule_expiry(session: ProctoringSession) -> None:
    from sessions.tasks import session_expire_task

    if session.deadline_at is None:
        return
    countdown = max((session.deadline_at - timezone.now()).total_seconds(), 0.0) + 1
    public_id = str(session.public_id)
    transaction.on_commit(lambda: enqueue(session_expire_task, public_id, countdown=countdown))


def message_send(*, session: ProctoringSession, text: str, actor=None, actor_label: str = "") -> dict:
    """Show the candidate a message; the widget keeps it on screen until they acknowledge it.

    Returns the message as the widget gets it: ``{messageId, text, sentAt}``. The candidate's
    acknowledgement comes back as the browser signal ``MESSAGE_ACKNOWLEDGED {messageId}``.
    """
    text = _text(text, name="text", limit=MESSAGE_MAX)
    with transaction.atomic():
        locked = _locked_running(session)
        message = {"messageId": uuid.uuid4().hex, "text": text, "sentAt": iso(timezone.now())}
        session_event_record(locked, "PROCTOR_MESSAGE", {**message, "sentBy": _label(actor, actor_label)})
        _audit(
            locked, actor=actor, actor_label=actor_label, action=AuditLogEntry.Action.MESSAGE_SENT, **message
        )
        session_push(locked, {"type": "message", "message": message})
        _live(locked, "message", message=message)
    return message


def session_pause(
    *, session: ProctoringSession, reason: str = "", actor=None, actor_label: str = ""
) -> ProctoringSession:
    """Stop the clock and capture until ``session_resume``; ``reason`` is shown to the candidate."""
    reason = _text(reason, name="reason", limit=REASON_MAX, required=False)
    with transaction.atomic():
        locked = _locked_running(session)
        if locked.paused_at is not None:
            raise SessionPaused(details={"pausedAt": iso(locked.paused_at)})
        now = timezone.now()
        locked.paused_at = now
        locked.save(update_fields=["paused_at"])
        from sessions.models import Flag

        # An episode open at the pause (the candidate away from the tab …) ends with it.
        for flag in Flag.objects.filter(session=locked, ended_at__isnull=True):
            flag.ended_at = max(now, flag.started_at)
            flag.duration_seconds = (flag.ended_at - flag.started_at).total_seconds()
            flag.save(update_fields=["ended_at", "duration_seconds"])
        payload = {"pausedAt": iso(now), **({"reason": reason} if reason else {})}
        session_event_record(locked, "PROCTORING_PAUSED", payload)
        _audit(locked, actor=actor, actor_label=actor_label, action=AuditLogEntry.Action.PAUSED, **payload)
        session_push(locked, {"type": "paused", **payload})
        _live(locked, "paused", **payload)
    return locked


def session_resume(*, session: ProctoringSession, actor=None, actor_label: str = "") -> ProctoringSession:
    """Restart the clock and capture; the deadline moves by the time the session was paused."""
    with transaction.atomic():
        locked = _locked_running(session)
        if locked.paused_at is None:
            raise SessionNotPaused()
        now = timezone.now()
        paused_for = max((now - locked.paused_at).total_seconds(), 0.0)
        locked.paused_seconds += paused_for
        locked.paused_at = None
        if locked.deadline_at is not None:
            locked.deadline_at += timedelta(seconds=paused_for)
        locked.save(update_fields=["paused_at", "paused_seconds", "deadline_at"])
        payload = {
            "resumedAt": iso(now),
            "pausedSeconds": round(paused_for, 3),
            "deadlineAt": iso(locked.deadline_at),
        }
        session_event_record(locked, "PROCTORING_RESUMED", payload)
        _audit(locked, actor=actor, actor_label=actor_label, action=AuditLogEntry.Action.RESUMED, **payload)
        session_push(locked, {"type": "resumed", **payload})
        _live(locked, "resumed", **payload)
        _reschedule_expiry(locked)
    return locked


def session_extend(
    *, session: ProctoringSession, seconds: int, actor=None, actor_label: str = ""
) -> ProctoringSession:
    """Give the candidate ``seconds`` more (1 s to 6 h): the server's deadline moves."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= EXTEND_MAX_SECONDS:
        raise InvalidIntervention(
            "seconds must be a whole number from 1 to 21600.",
            details={"fields": {"seconds": f"A whole number from 1 to {EXTEND_MAX_SECONDS}."}},
        )
    with transaction.atomic():
        locked = _locked_running(session)
        if locked.deadline_at is None:
            locked.deadline_at = timezone.now()
        locked.deadline_at += timedelta(seconds=seconds)
        locked.save(update_fields=["deadline_at"])
        payload = {"seconds": seconds, "deadlineAt": iso(locked.deadline_at)}
        session_event_record(locked, "TIME_EXTENDED", payload)
        _audit(locked, actor=actor, actor_label=actor_label, action=AuditLogEntry.Action.EXTENDED, **payload)
        session_push(locked, {"type": "deadline", **payload})
        _live(locked, "extended", **payload)
        _reschedule_expiry(locked)
    return locked


def session_terminate(
    *, session: ProctoringSession, reason: str, actor=None, actor_label: str = ""
) -> ProctoringSession:
    """End the attempt now, for good (``end_reason`` "terminated"); ``reason`` is required and
    reaches the candidate's page in END_PROCTORING / apMonitoringStopped as ``message``."""
    reason = _text(reason, name="reason", limit=REASON_MAX)
    with transaction.atomic():
        locked = _locked_running(session)
        _audit(
            locked,
            actor=actor,
            actor_label=actor_label,
            action=AuditLogEntry.Action.TERMINATED,
            reason=reason,
        )
        ended = session_end(session=locked, reason=TERMINATED, message=reason)
        _live(ended, "terminated", reason=reason)
    return ended


def session_intervention_state(session: ProctoringSession) -> dict:
    """What a (re)connecting widget needs: the pause, and messages not acknowledged yet."""
    from sessions.models import Event

    sent = list(
        Event.objects.filter(session=session, type="PROCTOR_MESSAGE")
        .order_by("started_at", "pk")
        .values_list("payload", flat=True)
    )
    if not sent:
        pending = []
    else:
        acknowledged = {
            str(payload.get("messageId"))
            for payload in Event.objects.filter(session=session, type="MESSAGE_ACKNOWLEDGED").values_list(
                "payload", flat=True
            )
        }
        pending = [
            {"messageId": p["messageId"], "text": p["text"], "sentAt": p["sentAt"]}
            for p in sent
            if p.get("messageId") not in acknowledged
        ]
    state = {"paused": session.paused_at is not None, "pausedAt": iso(session.paused_at), "messages": pending}
    if session.paused_at is not None:
        last = (
            Event.objects.filter(session=session, type="PROCTORING_PAUSED")
            .order_by("-started_at", "-pk")
            .first()
        )
        state["pauseReason"] = (last.payload.get("reason", "") if last else "") or ""
    return state
