"""Celery tasks of the LMS layer: take ids, load, call one service.

Every call is logged as an LtiServiceCall (admin: LTI attempts). When the LMS
cannot be reached the task is enqueued again, later, up to ``RETRIES`` times
(30 s, 1 min, 2 min, 4 min, 8 min); a refusal for any other reason is final.
"""

from __future__ import annotations

import logging

from celery import shared_task

from proctorme.tasks import enqueue
from sessions.lti.errors import LtiError, LtiPlatformUnreachable
from sessions.models import Flag, ProctoringSession

log = logging.getLogger(__name__)

RETRIES = 5
RETRY_BASE_SECONDS = 30


def _again(task, key: str, attempt: int, error: LtiError) -> None:
    if isinstance(error, LtiPlatformUnreachable) and attempt < RETRIES:
        enqueue(task, key, attempt + 1, countdown=RETRY_BASE_SECONDS * 2**attempt)
        log.info("%s %s: LMS unreachable, retry %d", task.name, key, attempt + 1)
    else:
        log.warning("%s %s given up: %s %s", task.name, key, error.code, error.message)


@shared_task(name="lti.acs_flag", acks_late=True)
def lti_acs_flag_task(flag_public_id: str, attempt: int = 0) -> None:
    from sessions.lti.services import acs_flag_report

    flag = Flag.objects.select_related("session").filter(public_id=flag_public_id).first()
    if flag is None:
        return
    try:
        acs_flag_report(flag=flag)
    except LtiError as error:
        _again(lti_acs_flag_task, flag_public_id, attempt, error)


@shared_task(name="lti.ags_publish", acks_late=True)
def lti_ags_publish_task(session_public_id: str, attempt: int = 0) -> None:
    from sessions.lti.services import ags_result_publish

    session = ProctoringSession.objects.filter(public_id=session_public_id).first()
    if session is None:
        return
    try:
        ags_result_publish(session=session)
    except LtiError as error:
        _again(lti_ags_publish_task, session_public_id, attempt, error)
