"""Reads of the LMS layer for the dashboard."""

from __future__ import annotations

from sessions.lti.models import LtiAttempt, LtiServiceCall
from sessions.lti.services import CONTROL_ACTIONS
from sessions.models import ProctoringSession


def lti_session_panel(*, session: ProctoringSession) -> dict | None:
    """The session's LMS attempt, the controls its LMS offered, and the LMS's last ACS answer."""
    attempt = (
        LtiAttempt.objects.select_related("registration")
        .filter(session=session, institution_id=session.institution_id)
        .first()
    )
    if attempt is None:
        return None
    last = (
        LtiServiceCall.objects.filter(attempt=attempt, service="acs", succeeded=True)
        .order_by("-created_at", "-pk")
        .first()
    )
    actions = [a for a in CONTROL_ACTIONS if a in attempt.acs_actions and attempt.acs_url]
    return {
        "attempt": attempt,
        "actions": actions,
        "last": (last.response_body or {}).get("status") if last else "",
    }
