"""Finalising an ended session: analyse what is left, then the final score."""

from __future__ import annotations

from django.db import transaction

from proctorme.realtime import broadcast, institution_group, session_group
from sessions import signals
from sessions.models import ProctoringSession
from sessions.scoring import breakdown_json, reviewed_score_compute, session_score_compute


def session_finalise(*, session: ProctoringSession) -> ProctoringSession:
    """Idempotent: a finalised session is left as it is."""
    if session.status != ProctoringSession.Status.FINALISING:
        return session
    from sessions.analysis_pipeline import session_analyse

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
        locked.trust_breakdown = breakdown_json(result)
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
