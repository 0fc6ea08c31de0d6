"""Domain signals → platform services (ACS flags, AGS results), connected in LtiConfig.ready.

Only sessions started from an LMS launch have an LtiAttempt; for every other
session these receivers cost one indexed lookup and do nothing.
"""

from __future__ import annotations

from proctorme.tasks import enqueue
from sessions import signals
from sessions.models import ProctoringSession


def _from_lms(session) -> bool:
    return bool(session.config.get("launch") == "lti")


def on_flag_created(sender, flag, **kwargs) -> None:
    from sessions.lti.tasks import lti_acs_flag_task

    if _from_lms(flag.session):
        enqueue(lti_acs_flag_task, str(flag.public_id))


def on_result(sender, session, **kwargs) -> None:
    from sessions.lti.tasks import lti_ags_publish_task

    if _from_lms(session):
        enqueue(lti_ags_publish_task, str(session.public_id))


def connect() -> None:
    signals.flag_created.connect(on_flag_created, sender=ProctoringSession, dispatch_uid="lti-acs-flag")
    signals.session_completed.connect(on_result, sender=ProctoringSession, dispatch_uid="lti-ags-completed")
    signals.verdict_recorded.connect(on_result, sender=ProctoringSession, dispatch_uid="lti-ags-verdict")
