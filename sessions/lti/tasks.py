"""Celery tasks of the LMS layer: take ids, load, call one service. A failed call is logged as an
LtiServiceCall (visible in the admin) and not retried."""

from __future__ import annotations

import logging

from celery import shared_task

from sessions.lti.errors import LtiError
from sessions.models import Flag, ProctoringSession

log = logging.getLogger(__name__)


@shared_task(name="lti.acs_flag", acks_late=True)
def lti_acs_flag_task(flag_public_id: str) -> None:
    from sessions.lti.services import acs_flag_report

    flag = Flag.objects.select_related("session").filter(public_id=flag_public_id).first()
    if flag is None:
        return
    try:
        acs_flag_report(flag=flag)
    except LtiError as error:
        log.warning("ACS flag %s not reported: %s %s", flag_public_id, error.code, error.message)


@shared_task(name="lti.ags_publish", acks_late=True)
def lti_ags_publish_task(session_public_id: str) -> None:
    from sessions.lti.services import ags_result_publish

    session = ProctoringSession.objects.filter(public_id=session_public_id).first()
    if session is None:
        return
    try:
        ags_result_publish(session=session)
    except LtiError as error:
        log.warning("AGS result of %s not sent: %s %s", session_public_id, error.code, error.message)
