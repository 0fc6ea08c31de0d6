"""Calls from the tool to the platform: OAuth2 access tokens, Assessment Control Service, AGS.

Every call is logged as an LtiServiceCall (admin: LTI attempts) and goes
through sessions.lti.http.lti_fetch. A platform only gets what it offered in
the launch: ACS actions listed in its ``acs`` claim, AGS only with both the
lineitem and score scopes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from proctorme.errors import ProctormeError
from proctorme.flag_types import VIOLATIONS
from sessions.lti.errors import LtiPlatformUnreachable, LtiServiceNotOffered
from sessions.lti.http import lti_fetch
from sessions.lti.keys import tool_sign
from sessions.lti.launch import LTI_AGS
from sessions.lti.models import LtiAttempt, LtiRegistration, LtiServiceCall
from sessions.models import Event, Flag, ProctoringSession

log = logging.getLogger(__name__)

ACS_SCOPE = "https://purl.imsglobal.org/spec/lti-ap/scope/control.all"
ACS_TYPE = "application/vnd.ims.lti-ap.v1.control+json"
AGS_LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
TRUST_TAG = "proctorme-trust-score"
# ACS actions a reviewer may ask the platform for (flag is sent by the tool as flags arrive).
CONTROL_ACTIONS = ("pause", "resume", "terminate", "update")
SEVERITY = {"FACE_MISMATCH": 0.9, "MULTIPLE_FACE": 0.8, "SUSPICIOUS_ACTIVITY": 0.8, "SOUND_DETECTED": 0.5}


def _iso(value) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def platform_access_token(*, registration: LtiRegistration, scopes: list[str]) -> str:
    """OAuth2 client credentials with a JWT client assertion (1EdTech Security Framework §4.1)."""
    scope_hash = hashlib.sha256(" ".join(sorted(scopes)).encode()).hexdigest()[:16]
    key = f"lti:token:{registration.public_id}:{scope_hash}"
    cached = cache.get(key)
    if cached:
        return cached
    now = int(time.time())
    assertion = tool_sign(
        institution=registration.institution,
        claims={
            "iss": registration.client_id,
            "sub": registration.client_id,
            "aud": registration.auth_token_url,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(16),
        },
    )
    body = urlencode(
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": " ".join(scopes),
        }
    ).encode()
    result = lti_fetch(
        "POST",
        registration.auth_token_url,
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )
    try:
        data = json.loads(result.body)
        token = data["access_token"]
        lifetime = int(data.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError):
        raise LtiPlatformUnreachable(
            "The LMS's token endpoint did not grant an access token.",
            details={"status": result.status},
        ) from None
    if result.status != 200 or not isinstance(token, str):
        raise LtiPlatformUnreachable(
            "The LMS refused the access token request.", details={"status": result.status}
        )
    cache.set(key, token, max(lifetime - 60, 1))
    return token


def _call(
    *,
    attempt: LtiAttempt,
    service: str,
    action: str,
    method: str,
    url: str,
    scopes: list[str],
    payload: dict | None,
    content_type: str = "",
    accept: str = "application/json",
) -> tuple[int, object]:
    log_row = LtiServiceCall(
        institution_id=attempt.institution_id,
        attempt=attempt,
        service=service,
        action=action,
        url=url[:1000],
        request_body=payload or {},
    )
    try:
        token = platform_access_token(registration=attempt.registration, scopes=scopes)
        headers = {"Authorization": f"Bearer {token}", "Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        body = json.dumps(payload).encode() if payload is not None else None
        result = lti_fetch(method, url, body=body, headers=headers)
        try:
            answer = json.loads(result.body) if result.body else {}
        except (ValueError, UnicodeDecodeError):
            answer = {}
        log_row.status_code = result.status
        log_row.succeeded = 200 <= result.status < 300
        log_row.response_body = answer if isinstance(answer, dict) else {"items": answer}
        if not log_row.succeeded:
            log_row.error = f"HTTP {result.status}"
        return result.status, answer
    except LtiPlatformUnreachable as error:
        log_row.error = error.message[:300]
        raise
    finally:
        log_row.save()


# --- Assessment Control Service ----------------------------------------------------------------


def _control_body(attempt: LtiAttempt, action: str, **fields) -> dict:
    body = {
        "user": {"iss": attempt.registration.issuer, "sub": attempt.user_sub},
        "resource_link": {"id": attempt.resource_link_id},
        "attempt_number": attempt.attempt_number,
        "action": action,
        "incident_time": _iso(fields.pop("incident_time", None) or timezone.now()),
    }
    body.update({k: v for k, v in fields.items() if v not in (None, "")})
    return body


def acs_send(*, attempt: LtiAttempt, action: str, **fields) -> dict:
    """One ACS request; the platform's answer (``status``, maybe ``extra_time``)."""
    if not attempt.acs_url or action not in attempt.acs_actions:
        raise LtiServiceNotOffered(details={"action": action, "offered": attempt.acs_actions})
    status, answer = _call(
        attempt=attempt,
        service="acs",
        action=action,
        method="POST",
        url=attempt.acs_url,
        scopes=[ACS_SCOPE],
        payload=_control_body(attempt, action, **fields),
        content_type=ACS_TYPE,
    )
    if not 200 <= status < 300 or not isinstance(answer, dict):
        raise LtiPlatformUnreachable(
            "The LMS refused the assessment control request.", details={"status": status}
        )
    return answer


def acs_flag_report(*, flag: Flag) -> dict | None:
    """Report one violation flag to the platform, if it offered the ``flag`` action."""
    attempt = (
        LtiAttempt.objects.select_related("registration", "registration__institution")
        .filter(session_id=flag.session_id)
        .first()
    )
    if attempt is None or flag.type not in VIOLATIONS or "flag" not in attempt.acs_actions:
        return None
    return acs_send(
        attempt=attempt,
        action="flag",
        incident_time=flag.started_at,
        incident_severity=SEVERITY.get(flag.type, 0.3),
        reason_code=flag.type,
        reason_msg=flag.description[:500],
    )


# Each intervention of ours and the ACS action that does the same to the LMS's attempt.
ACS_ACTION = {"pause": "pause", "resume": "resume", "extend": "update", "terminate": "terminate"}
INTERVENTIONS = tuple(ACS_ACTION)


@dataclass
class ControlResult:
    session: ProctoringSession
    # The LMS's answer (``status``, maybe ``extra_time``); None when the session is no LMS attempt
    # or its LMS did not offer the action.
    lms: dict | None = None
    # Why the LMS did not take it, when it was asked and refused or could not be reached.
    lms_error: ProctormeError | None = None


def _lms_attempt(session: ProctoringSession) -> LtiAttempt | None:
    return (
        LtiAttempt.objects.select_related("registration", "registration__institution")
        .filter(session=session, institution_id=session.institution_id)
        .first()
    )


def session_control(
    *,
    session: ProctoringSession,
    action: str,
    actor=None,
    actor_label: str = "",
    seconds: int | None = None,
    reason: str = "",
) -> ControlResult:
    """Pause, resume, extend or terminate a running session: the one path of every interface
    (the live page, the session page's LMS card, ``/sessions/{id}/pause`` … and
    ``/sessions/{id}/lms-control``).

    1. The proctoring session, through sessions.intervention (it checks that the session runs
       and is or is not paused, records the event and the audit entry, tells the widget).
    2. Then, when the session is an LMS attempt whose Assessment Control Service offered the
       action, the LMS's attempt: ``pause``, ``resume``, ``update`` with ``extra_time`` (extend)
       or ``terminate``, with the reason; recorded as an ``LMS_CONTROL`` event with the LMS's
       answer. An LMS that refuses or cannot be reached does not undo step 1 (the candidate's
       proctoring already changed): the result and the event carry its error.
    """
    from sessions import intervention

    if action not in ACS_ACTION:
        raise LtiServiceNotOffered(details={"action": action, "offered": list(INTERVENTIONS)})
    label = actor_label or (getattr(actor, "email", "") or getattr(actor, "username", "") or "")
    if action == "pause":
        changed = intervention.session_pause(
            session=session, reason=reason, actor=actor, actor_label=actor_label
        )
    elif action == "resume":
        changed = intervention.session_resume(session=session, actor=actor, actor_label=actor_label)
    elif action == "extend":
        changed = intervention.session_extend(
            session=session, seconds=seconds, actor=actor, actor_label=actor_label
        )
    else:
        changed = intervention.session_terminate(
            session=session, reason=reason, actor=actor, actor_label=actor_label
        )
    attempt = _lms_attempt(session)
    acs_action = ACS_ACTION[action]
    if attempt is None or not attempt.acs_url or acs_action not in attempt.acs_actions:
        return ControlResult(session=changed)
    fields: dict = {"reason_msg": reason[:500] or None}
    if acs_action == "update":
        fields["extra_time"] = int(seconds)
    result = ControlResult(session=changed)
    try:
        result.lms = acs_send(attempt=attempt, action=acs_action, **fields)
    except ProctormeError as error:
        result.lms_error = error
    Event.objects.create(
        institution_id=session.institution_id,
        session=session,
        type="LMS_CONTROL",
        source=Event.Source.SERVER,
        started_at=timezone.now(),
        payload={
            "action": acs_action,
            "by": label[:254],
            **({"answer": result.lms} if result.lms is not None else {}),
            **({"error": result.lms_error.code} if result.lms_error else {}),
            **({"extraTime": int(seconds)} if acs_action == "update" else {}),
        },
    )
    return result


def lti_session_control(
    *,
    session: ProctoringSession,
    action: str,
    actor=None,
    actor_label: str = "",
    extra_time: int | None = None,
    reason: str = "",
) -> dict:
    """An ACS control asked for by its LMS name (``pause``, ``resume``, ``terminate``,
    ``update`` with extra_time seconds): only for an LMS attempt whose LMS offered it, checked
    before anything changes; then session_control does both sides. Returns the LMS's answer;
    raises the LMS's error after our side changed (the event says so)."""
    if action not in CONTROL_ACTIONS:
        raise LtiServiceNotOffered(details={"action": action, "offered": list(CONTROL_ACTIONS)})
    attempt = _lms_attempt(session)
    if attempt is None:
        raise LtiServiceNotOffered("This session was not started from an LMS.")
    if not attempt.acs_url or action not in attempt.acs_actions:
        raise LtiServiceNotOffered(details={"action": action, "offered": attempt.acs_actions})
    if action == "update" and (not extra_time or extra_time <= 0):
        raise LtiServiceNotOffered("Extending an attempt needs extra_time in seconds.")
    ours = {"update": "extend"}.get(action, action)
    result = session_control(
        session=session,
        action=ours,
        actor=actor,
        actor_label=actor_label,
        seconds=int(extra_time) if action == "update" else None,
        reason=reason,
    )
    if result.lms_error is not None:
        raise result.lms_error
    return result.lms or {}


# --- Assignment and Grade Services -----------------------------------------------------------


def _scores_url(lineitem: str) -> str:
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _trust_lineitem(attempt: LtiAttempt) -> str:
    """Our own line item for this resource link, found by its tag or made once."""
    if attempt.ags_lineitem_url:
        return attempt.ags_lineitem_url
    scopes = [AGS_LINEITEM_SCOPE, AGS_SCORE_SCOPE]
    query = urlencode({"resource_link_id": attempt.resource_link_id, "tag": TRUST_TAG})
    separator = "&" if "?" in attempt.ags_lineitems_url else "?"
    status, found = _call(
        attempt=attempt,
        service="ags",
        action="lineitems.find",
        method="GET",
        url=attempt.ags_lineitems_url + separator + query,
        scopes=scopes,
        payload=None,
        accept=LINEITEMS_TYPE,
    )
    items = (
        [i for i in found if isinstance(i, dict) and i.get("tag") == TRUST_TAG]
        if isinstance(found, list)
        else []
    )
    if status == 200 and items:
        url = items[0]["id"]
    else:
        status, made = _call(
            attempt=attempt,
            service="ags",
            action="lineitems.create",
            method="POST",
            url=attempt.ags_lineitems_url,
            scopes=scopes,
            content_type=LINEITEM_TYPE,
            accept=LINEITEM_TYPE,
            payload={
                "scoreMaximum": 100,
                "label": "Proctoring trust score",
                "resourceLinkId": attempt.resource_link_id,
                "resourceId": "proctorme",
                "tag": TRUST_TAG,
            },
        )
        if status not in (200, 201) or not isinstance(made, dict) or not made.get("id"):
            raise LtiPlatformUnreachable(
                "The LMS did not create the trust-score line item.", details={"status": status}
            )
        url = made["id"]
    quiz_lineitem = (attempt.claims.get(LTI_AGS + "endpoint") or {}).get("lineitem")
    if url == quiz_lineitem:
        # Never write over the quiz's own grade.
        raise LtiPlatformUnreachable("The LMS answered with the quiz's own line item.")
    LtiAttempt.objects.filter(pk=attempt.pk).update(ags_lineitem_url=url)
    attempt.ags_lineitem_url = url
    return url


def ags_result_publish(*, session: ProctoringSession) -> bool:
    """The trust score and verdict to the LMS as our own line item; False when AGS was not granted."""
    attempt = (
        LtiAttempt.objects.select_related("registration", "registration__institution")
        .filter(session=session)
        .first()
    )
    if attempt is None or not attempt.ags_lineitems_url:
        return False
    if not {AGS_LINEITEM_SCOPE, AGS_SCORE_SCOPE} <= set(attempt.ags_scopes):
        return False
    if session.trust_score is None:
        return False
    score = session.reviewed_score if session.reviewed_score is not None else session.trust_score
    band = (session.trust_breakdown or {}).get("band", "")
    verdict = session.get_verdict_display() if session.verdict else "not reviewed"
    review = settings.SITE_URL.rstrip("/") + reverse("dashboard:session", args=[session.public_id])
    lineitem = _trust_lineitem(attempt)
    status, _ = _call(
        attempt=attempt,
        service="ags",
        action="score",
        method="POST",
        url=_scores_url(lineitem),
        scopes=[AGS_LINEITEM_SCOPE, AGS_SCORE_SCOPE],
        content_type=SCORE_TYPE,
        payload={
            "userId": attempt.user_sub,
            "scoreGiven": round(float(score), 1),
            "scoreMaximum": 100,
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded" if session.verdict or band == "low" else "PendingManual",
            "timestamp": _iso(timezone.now()),
            "comment": f"Proctoring trust score {round(float(score), 1)} ({band or 'unbanded'}); "
            f"verdict: {verdict}. Review: {review}",
        },
    )
    if not 200 <= status < 300:
        raise LtiPlatformUnreachable("The LMS refused the score.", details={"status": status})
    return True
