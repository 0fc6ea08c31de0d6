"""Reviewer actions: a verdict, dismissing or restoring a flag. Each writes its audit entry
in the same transaction, with the session row locked so two reviewers never interleave."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from sessions import signals
from sessions.models import AuditLogEntry, Flag, ProctoringSession
from sessions.scoring import reviewed_score_compute

NOTES_MAX = 5000
REASON_MAX = 500


class ReviewError(ValueError):
    """The action makes no sense in the flag's or session's current state."""


def _actor_label(user) -> str:
    return (getattr(user, "email", "") or getattr(user, "username", "") or "unknown")[:254]


def _audit(*, session: ProctoringSession, actor, action: str, flag: Flag | None = None, **details):
    return AuditLogEntry.objects.create(
        institution_id=session.institution_id,
        session=session,
        flag=flag,
        actor=actor,
        actor_label=_actor_label(actor),
        action=action,
        details=details,
    )


def _locked(session: ProctoringSession) -> ProctoringSession:
    return (
        ProctoringSession.objects.select_for_update()
        .select_related("institution", "assessment")
        .get(pk=session.pk, institution_id=session.institution_id)
    )


def session_verdict_set(*, session: ProctoringSession, actor, verdict: str, notes: str = "") -> AuditLogEntry:
    if verdict not in {v for v, _ in ProctoringSession.Verdict.choices if v}:
        raise ReviewError("Choose cleared, suspicious or violation.")
    notes = notes.strip()[:NOTES_MAX]
    with transaction.atomic():
        locked = _locked(session)
        before = locked.verdict
        locked.verdict = verdict
        locked.verdict_notes = notes
        locked.save(update_fields=["verdict", "verdict_notes"])
        transaction.on_commit(lambda: signals.verdict_recorded.send(sender=ProctoringSession, session=locked))
        return _audit(
            session=locked,
            actor=actor,
            action=AuditLogEntry.Action.VERDICT,
            previous=before,
            verdict=verdict,
            notes=notes,
        )


def _reviewed_score_refresh(session: ProctoringSession) -> float | None:
    """The score without dismissed flags; the automatic ``trust_score`` is never touched."""
    session.reviewed_score = reviewed_score_compute(session=session)
    session.save(update_fields=["reviewed_score"])
    return session.reviewed_score


def flag_dismiss(*, flag: Flag, actor, reason: str) -> AuditLogEntry:
    reason = reason.strip()[:REASON_MAX]
    if not reason:
        raise ReviewError("Say why this flag is a false positive.")
    with transaction.atomic():
        session = _locked(flag.session)
        locked = Flag.objects.select_for_update().get(pk=flag.pk, session=session)
        if locked.dismissed_at is not None:
            raise ReviewError("This flag is already dismissed.")
        return _flag_dismissal_set(
            session, locked, actor, AuditLogEntry.Action.FLAG_DISMISSED, at=timezone.now(), reason=reason
        )


def flag_restore(*, flag: Flag, actor) -> AuditLogEntry:
    with transaction.atomic():
        session = _locked(flag.session)
        locked = Flag.objects.select_for_update().get(pk=flag.pk, session=session)
        if locked.dismissed_at is None:
            raise ReviewError("This flag is not dismissed.")
        return _flag_dismissal_set(
            session,
            locked,
            actor,
            AuditLogEntry.Action.FLAG_RESTORED,
            at=None,
            reason="",
            previous_reason=locked.dismissed_reason,
        )


def _flag_dismissal_set(session, flag: Flag, actor, action, *, at, reason: str, **details) -> AuditLogEntry:
    """Dismiss (``at`` set) or restore a locked flag, refresh the reviewed score, and audit it."""
    flag.dismissed_at = at
    flag.dismissed_reason = reason
    flag.save(update_fields=["dismissed_at", "dismissed_reason"])
    before = session.reviewed_score
    after = _reviewed_score_refresh(session)
    if at is not None:
        details["reason"] = reason
    return _audit(
        session=session,
        actor=actor,
        action=action,
        flag=flag,
        type=flag.type,
        **details,
        reviewed_score_before=before,
        reviewed_score_after=after,
    )
