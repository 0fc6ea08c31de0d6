"""Finalising an ended session: analyse what is left, then the final score."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from proctorme.realtime import broadcast, institution_group, session_group
from proctorme.tasks import enqueue
from proctorme.times import iso
from sessions import signals
from sessions.models import ProctoringSession
from sessions.scoring import breakdown_json, reviewed_score_compute, session_score_compute

log = logging.getLogger(__name__)


# A session still finalising this long after its end was not finalised by its own task.
FINALISE_GRACE = timedelta(minutes=2)
RETRY_BASE_SECONDS, RETRY_MAX_SECONDS = 60, 3600


def session_finalise(*, session: ProctoringSession) -> ProctoringSession:
    """Idempotent: a finalised session is left as it is.

    A failure is recorded with the time of the next try (60 s, doubling, at most an hour)
    and raised; sessions_finalise_stuck, on the beat schedule, tries again when it is due.
    """
    if session.status != ProctoringSession.Status.FINALISING:
        return session
    try:
        return _session_finalise(session)
    except Exception as exc:
        _finalise_failed(session, exc)
        raise


def _finalise_failed(session: ProctoringSession, exc: Exception) -> None:
    with transaction.atomic():
        locked = ProctoringSession.objects.select_for_update().get(pk=session.pk)
        state = dict(locked.analysis_state or {})
        failures = int(state.get("finalise_retry", {}).get("failures", 0)) + 1
        delay = min(RETRY_BASE_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS)
        state["finalise_retry"] = {
            "failures": failures,
            "next_at": iso(timezone.now() + timedelta(seconds=delay)),
            "error": type(exc).__name__,
        }
        locked.analysis_state = state
        locked.save(update_fields=["analysis_state"])
    log.exception(
        "finalise of session %s failed (%d times); next try in %d s", session.public_id, failures, delay
    )


def sessions_finalise_stuck(*, now: datetime | None = None) -> int:
    """Queue the finalise of every session left in FINALISING past the grace, when its retry is due."""
    from sessions.tasks import session_finalise_task

    now = now or timezone.now()
    stuck = ProctoringSession.objects.filter(
        status=ProctoringSession.Status.FINALISING, ended_at__lte=now - FINALISE_GRACE
    ).only("public_id", "analysis_state")
    queued = 0
    for session in stuck.iterator():
        due = (session.analysis_state or {}).get("finalise_retry", {}).get("next_at")
        if due and (parse_datetime(due) or now) > now:
            continue
        enqueue(session_finalise_task, str(session.public_id))
        queued += 1
    return queued


def _session_finalise(session: ProctoringSession) -> ProctoringSession:
    from sessions.analysis_pipeline import session_analyse
    from sessions.aux import aux_heartbeat_check

    # A paired phone that went silent before the end and was never asked about is a drop too.
    aux_heartbeat_check(session=session, now=session.ended_at or timezone.now())
    session_analyse(session=session, final=True)
    with transaction.atomic():
        locked = (
            ProctoringSession.objects.select_for_update()
            .select_related("institution", "assessment")
            .get(pk=session.pk)
        )
        if locked.status != ProctoringSession.Status.FINALISING:
            return locked
        result = session_score_compute(session=locked)
        locked.trust_score = result.score
        locked.trust_breakdown = breakdown_json(result, session=locked)
        locked.reviewed_score = reviewed_score_compute(session=locked)
        locked.score_final = True
        locked.status = ProctoringSession.Status.COMPLETED
        locked.save(
            update_fields=["trust_score", "trust_breakdown", "reviewed_score", "score_final", "status"]
        )
        message = {"type": "completed", "trustScore": result.score, "band": result.band}
        institution_message = {
            "type": "institution.message",
            "message": {**message, "sessionId": str(locked.public_id)},
        }
        transaction.on_commit(
            lambda: broadcast(
                session_group(locked.public_id), {"type": "session.message", "message": message}
            )
        )
        transaction.on_commit(
            lambda: broadcast(institution_group(locked.institution.public_id), institution_message)
        )
        transaction.on_commit(
            lambda: signals.session_completed.send(sender=ProctoringSession, session=locked)
        )
    return locked
