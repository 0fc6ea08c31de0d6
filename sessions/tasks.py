"""Celery tasks: interfaces that take ids, load, and call one service."""

from __future__ import annotations

from celery import shared_task

from proctorme.logs import log_context
from sessions.models import ProctoringSession


@shared_task(name="sessions.session_expire", acks_late=True)
def session_expire_task(session_public_id: str) -> None:
    from sessions.services import session_end, session_is_overdue

    with log_context(session_id=session_public_id):
        session = ProctoringSession.objects.filter(public_id=session_public_id).first()
        if session is not None and session_is_overdue(session):
            session_end(session=session, reason="time_up")


@shared_task(name="sessions.expire_overdue", acks_late=True)
def sessions_expire_overdue_task() -> int:
    from sessions.services import sessions_expire_overdue

    return sessions_expire_overdue()


@shared_task(name="sessions.finalise_stuck", acks_late=True)
def sessions_finalise_stuck_task() -> int:
    from sessions.finalise import sessions_finalise_stuck

    return sessions_finalise_stuck()


@shared_task(name="sessions.session_finalise", acks_late=True)
def session_finalise_task(session_public_id: str) -> None:
    from sessions.finalise import session_finalise

    with log_context(session_id=session_public_id):
        session = ProctoringSession.objects.filter(public_id=session_public_id).first()
        if session is not None:
            session_finalise(session=session)


@shared_task(name="sessions.session_analyse", acks_late=True)
def session_analyse_task(session_public_id: str) -> None:
    from sessions.analysis_pipeline import session_analyse_serialised
    from sessions.rows import session_with_related

    with log_context(session_id=session_public_id):
        # With its institution, assessment and candidate, in one statement written once (the
        # ORM compiled the same joined SELECT afresh on every run: 1,800 an hour per candidate).
        session = session_with_related(session_public_id)
        if session is not None and session.status == ProctoringSession.Status.ACTIVE:
            session_analyse_serialised(session=session)


@shared_task(name="sessions.media_purge_expired", acks_late=True)
def media_purge_expired_task() -> int:
    from sessions.services import media_purge_expired

    return media_purge_expired()


# Named as it was queued before webhooks moved from tenants to sessions, so queued deliveries still run.
@shared_task(name="tenants.webhook_deliver", acks_late=True, ignore_result=True)
def webhook_deliver_task(delivery_id: str, manual: bool = False) -> None:
    from sessions.webhooks import webhook_deliver

    webhook_deliver(delivery_id=delivery_id, manual=manual)


@shared_task(name="sessions.webhooks_deliver_due", acks_late=True, ignore_result=True)
def webhooks_deliver_due_task() -> int:
    from sessions.webhooks import webhooks_deliver_due

    return webhooks_deliver_due()


@shared_task(name="sessions.analysis_pending_enqueue", acks_late=True, ignore_result=True)
def analysis_pending_enqueue_task() -> int:
    from sessions.analysis_pipeline import analysis_pending_enqueue

    return analysis_pending_enqueue()
