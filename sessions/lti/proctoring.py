"""LTI Proctoring Services: LtiStartProctoring → our consent and system check → LtiStartAssessment
back to the platform → LtiEndAssessment; and the LTI 1.3 resource-link launch of staff.

The candidate's proctoring session is an ordinary ProctoringSession: the tool
page runs the same widget as an exam page, started with a signed launch
ticket instead of an API key, from our own origin only.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from proctorme.errors import DomainNotRegistered, InvalidToken, SessionEnded
from sessions.config import DEFAULT_AUTOPROCTOR_SECONDS, parse_eye
from sessions.lti.errors import LtiError, LtiNotReady, LtiUnknownAttempt
from sessions.lti.keys import tool_sign
from sessions.lti.launch import LTI, LTI_AGS, LTI_AP, Launch
from sessions.lti.models import LtiAttempt, LtiRegistration
from sessions.models import Assessment, Event, ProctoringSession
from sessions.services import StartResult, session_end, session_start_for_institution
from tenants.models import Membership

TICKET_SALT = "proctorme.lti-ticket.v1"
TICKET_MAX_AGE = 4 * 3600
START_ASSESSMENT_TTL = 300
STAFF_ROLES = {
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
}
# LTI 1.1-style short names some platforms still send.
STAFF_SHORT_ROLES = {"Instructor", "Administrator", "ContentDeveloper", "TeachingAssistant"}


def _short(value: str, limit: int) -> str:
    return (
        value
        if len(value) <= limit
        else value[: limit - 41] + ":" + hashlib.sha256(value.encode()).hexdigest()[:40]
    )


def _assessment_external_id(registration: LtiRegistration, resource_link_id: str) -> str:
    return _short(f"lti:{registration.public_id}:{resource_link_id}", 200)


def _candidate_external_id(registration: LtiRegistration, sub: str) -> str:
    return _short(f"lti:{registration.public_id}:{sub}", 200)


def _offered(launch: Launch) -> dict:
    acs = launch.claim(LTI_AP + "acs") or {}
    ags = launch.claim(LTI_AGS + "endpoint") or {}
    return {
        "acs_url": acs.get("assessment_control_url", "") if isinstance(acs, dict) else "",
        "acs_actions": [a for a in acs.get("actions", []) if isinstance(a, str)]
        if isinstance(acs, dict)
        else [],
        "ags_lineitems_url": ags.get("lineitems", "") if isinstance(ags, dict) else "",
        "ags_scopes": [x for x in ags.get("scope", []) if isinstance(x, str)]
        if isinstance(ags, dict)
        else [],
    }


def lti_proctoring_start(*, launch: Launch) -> LtiAttempt:
    """Record the attempt LtiStartProctoring names (a relaunch of the same attempt refreshes it)."""
    registration = launch.registration
    link = launch.claim(LTI + "resource_link")
    context = launch.claim(LTI + "context") or {}
    fields = {
        "institution_id": registration.institution_id,
        "deployment_id": launch.deployment_id,
        "context_id": str(context.get("id", ""))[:255] if isinstance(context, dict) else "",
        "session_data": launch.claim(LTI_AP + "session_data"),
        "start_assessment_url": launch.claim(LTI_AP + "start_assessment_url"),
        "end_assessment_return": bool(launch.claim(LTI_AP + "end_assessment_return", False)),
        "claims": launch.claims,
        **_offered(launch),
    }
    key = {
        "registration": registration,
        "resource_link_id": link["id"][:255],
        "user_sub": launch.claims["sub"][:255],
        "attempt_number": launch.claim(LTI_AP + "attempt_number"),
    }
    for _ in range(2):
        try:
            with transaction.atomic():
                attempt = LtiAttempt.objects.select_for_update().filter(**key).first()
                if attempt is None:
                    return LtiAttempt.objects.create(**key, **fields)
                if attempt.status == LtiAttempt.Status.ENDED or (
                    attempt.session and attempt.session.status != ProctoringSession.Status.ACTIVE
                ):
                    raise SessionEnded("This attempt has already ended.")
                for name, value in fields.items():
                    setattr(attempt, name, value)
                attempt.save()
                return attempt
        except IntegrityError:
            continue
    raise LtiError("Could not record the attempt.")


def lti_ticket_make(*, attempt: LtiAttempt) -> str:
    return signing.dumps({"a": str(attempt.public_id)}, salt=TICKET_SALT)


def _ticket_attempt(ticket: str) -> LtiAttempt:
    try:
        data = signing.loads(ticket or "", salt=TICKET_SALT, max_age=TICKET_MAX_AGE)
    except signing.BadSignature:
        raise InvalidToken("The launch ticket is invalid or expired: launch again from the LMS.") from None
    attempt = (
        LtiAttempt.objects.select_related("registration", "institution", "session")
        .filter(public_id=data.get("a"))
        .first()
    )
    if attempt is None:
        raise InvalidToken("The launch ticket is invalid or expired: launch again from the LMS.")
    return attempt


def tool_origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _start_request(attempt: LtiAttempt):
    claims = attempt.claims
    registration = attempt.registration
    link = claims.get(LTI + "resource_link", {})
    assessment = Assessment.objects.filter(
        institution_id=attempt.institution_id,
        external_id=_assessment_external_id(registration, attempt.resource_link_id),
    ).first()
    seconds = (assessment.duration_seconds if assessment else None) or DEFAULT_AUTOPROCTOR_SECONDS
    sub = attempt.user_sub
    email = claims.get("email") or ""
    config = {
        "apiKey": "lti",  # not checked: the ticket is the credential
        "assessmentId": _assessment_external_id(registration, attempt.resource_link_id),
        "assessmentTitle": (link.get("title") or attempt.resource_link_id)[:200],
        "candidateId": _candidate_external_id(registration, sub),
        "candidateEmail": email
        if "@" in email
        else f"{hashlib.sha256(sub.encode()).hexdigest()[:16]}@lms.invalid",
        "candidateFirstName": (claims.get("given_name") or claims.get("name") or "LMS")[:150],
        "candidateLastName": (claims.get("family_name") or "user")[:150],
        "institutionName": attempt.institution.name,
        "examDuration": seconds,
        "features": {"aiProctoring": True, "facialRecognition": bool(claims.get("picture"))},
    }
    if claims.get("picture"):
        config["candidateImageUrl"] = claims["picture"]
    request = parse_eye(config)
    request.attempt_id = f"lti:{attempt.public_id}"
    # sessions.config.rules_apply reads it: the quiz runs in the LMS's window, so leaving this
    # tab is expected, not a violation.
    request.settings["launch"] = "lti"
    return request


def lti_session_start(*, ticket: str, origin: str | None, tool_origin: str) -> StartResult:
    """The widget on the tool page starts (or resumes) the attempt's session with its ticket."""
    if not origin or origin != tool_origin:
        raise DomainNotRegistered("The launch ticket only works on the tool's own page.")
    attempt = _ticket_attempt(ticket)
    if attempt.status == LtiAttempt.Status.ENDED:
        raise SessionEnded("This attempt has already ended.")
    result = session_start_for_institution(
        # The ticket is server-signed and bound to this attempt: it may resume it (a reloaded page).
        institution=attempt.institution,
        request=_start_request(attempt),
        origin=origin,
        signed=True,
    )
    if attempt.session_id != result.session.pk:
        LtiAttempt.objects.filter(pk=attempt.pk).update(session=result.session)
    return result


def tool_page_context(request, *, attempt: LtiAttempt) -> dict:
    from sessions.widget_script import widget_script

    build = widget_script()
    start = _start_request(attempt)
    ticket = lti_ticket_make(attempt=attempt)
    # What the widget validates on the page; the server takes all of it from the launch instead.
    widget_config = {
        "launchTicket": ticket,
        "assessmentId": start.assessment_id,
        "assessmentTitle": start.assessment_title,
        "candidateId": start.candidate_id,
        "candidateEmail": start.candidate_email,
        "candidateFirstName": start.candidate_first_name,
        "candidateLastName": start.candidate_last_name,
        "institutionName": attempt.institution.name,
        "examDuration": start.exam_seconds,
        "containerId": "proctorme-widget",
    }
    return {
        "attempt": attempt,
        "title": start.assessment_title,
        "institution": attempt.institution,
        "widget_url": reverse("widget-build", kwargs={"build": build.build, "name": "widget.min.js"}),
        "widget_integrity": build.integrity(minified=True),
        "ticket_json": _json_script(ticket),
        "start_url_json": _json_script(reverse("lti-start-assessment", args=[attempt.public_id])),
        "widget_config_json": _json_script(widget_config),
    }


def _json_script(value) -> str:
    """JSON safe inside a <script> element (no "</script>", no HTML-significant characters)."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _system_check_passed(session: ProctoringSession) -> bool:
    return Event.objects.filter(session=session, type="STARTED").exists()


def lti_start_assessment_message(*, ticket: str, attempt_id) -> tuple[str, str]:
    """The signed LtiStartAssessment (tool → platform) for an attempt whose system check passed.

    Returns (start_assessment_url, JWT). The ticket must be for this attempt.
    """
    attempt = _ticket_attempt(ticket)
    if str(attempt.public_id) != str(attempt_id):
        raise InvalidToken("The launch ticket is for another attempt.")
    session = attempt.session
    if (
        session is None
        or session.status != ProctoringSession.Status.ACTIVE
        or not _system_check_passed(session)
    ):
        raise LtiNotReady()
    registration = attempt.registration
    now = int(time.time())
    claims = {
        "iss": registration.client_id,
        "aud": registration.issuer,
        "iat": now,
        "exp": now + START_ASSESSMENT_TTL,
        "nonce": secrets.token_urlsafe(24),
        LTI + "message_type": "LtiStartAssessment",
        LTI + "version": "1.3.0",
        LTI + "deployment_id": attempt.deployment_id,
        LTI + "resource_link": {"id": attempt.resource_link_id},
        LTI_AP + "attempt_number": attempt.attempt_number,
        LTI_AP + "session_data": attempt.session_data,
        LTI_AP + "end_assessment_return": attempt.end_assessment_return,
    }
    verified = _verified_user(attempt)
    if verified:
        claims[LTI_AP + "verified_user"] = verified
    token = tool_sign(institution=attempt.institution, claims=claims)
    with transaction.atomic():
        updated = LtiAttempt.objects.filter(pk=attempt.pk, status=LtiAttempt.Status.PROCTORING).update(
            status=LtiAttempt.Status.ASSESSMENT, assessment_started_at=timezone.now()
        )
        if updated:
            Event.objects.create(
                institution_id=session.institution_id,
                session=session,
                type="LTI_START_ASSESSMENT",
                source=Event.Source.SERVER,
                started_at=timezone.now(),
                payload={"attemptNumber": attempt.attempt_number, "verifiedUser": bool(verified)},
            )
    return attempt.start_assessment_url, token


def _verified_user(attempt: LtiAttempt) -> dict:
    """verified_user: only what we checked — the LMS's picture is the identity reference of the
    session (analysis fetched it and found a face) and no FACE_MISMATCH was raised so far."""
    session = attempt.session
    picture = attempt.claims.get("picture")
    if session is None or not picture:
        return {}
    session.refresh_from_db(fields=["analysis_state"])
    if session.analysis_state.get("identity", {}).get("source") != "candidateImageUrl":
        return {}
    if session.flags.filter(type="FACE_MISMATCH").exists():
        return {}
    verified = {"picture": picture}
    for name in ("given_name", "family_name", "name", "email"):
        if attempt.claims.get(name):
            verified[name] = attempt.claims[name]
    return verified


def lti_assessment_end(*, launch: Launch) -> LtiAttempt:
    """LtiEndAssessment: the quiz was submitted; end the proctoring session (final analysis follows)."""
    link = launch.claim(LTI + "resource_link")
    attempt = (
        LtiAttempt.objects.select_related("session")
        .filter(
            registration=launch.registration,
            resource_link_id=link["id"][:255],
            user_sub=launch.claims["sub"][:255],
            attempt_number=launch.claim(LTI_AP + "attempt_number"),
        )
        .first()
    )
    if attempt is None:
        raise LtiUnknownAttempt()
    if attempt.session is not None:
        session_end(session=attempt.session, reason="lms_ended")
    LtiAttempt.objects.filter(pk=attempt.pk).exclude(status=LtiAttempt.Status.ENDED).update(
        status=LtiAttempt.Status.ENDED, ended_at=timezone.now()
    )
    attempt.refresh_from_db()
    return attempt


# --- staff: resource link launches and deep linking ------------------------------------------------


def is_staff_launch(launch: Launch) -> bool:
    return any(role in STAFF_ROLES or role in STAFF_SHORT_ROLES for role in launch.roles)


@transaction.atomic
def lti_staff_login(*, launch: Launch):
    """The user an instructor or LMS administrator is signed in as, with a reviewer membership.

    LMS roles never grant our ``admin`` role (keys, webhooks, members): that is
    given in our own admin only. A learner gets None.
    """
    if not is_staff_launch(launch):
        return None
    registration = launch.registration
    sub = launch.claims["sub"]
    username = "lti-" + hashlib.sha256(f"{registration.public_id}:{sub}".encode()).hexdigest()[:40]
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={
            "email": (launch.claim("email") or "")[:254],
            "first_name": (launch.claim("given_name") or "")[:150],
            "last_name": (launch.claim("family_name") or "")[:150],
        },
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(
        institution_id=registration.institution_id, user=user, defaults={"role": Membership.Role.REVIEWER}
    )
    return user


def dashboard_url(*, launch: Launch) -> str:
    link = launch.claim(LTI + "resource_link")
    assessment = Assessment.objects.filter(
        institution_id=launch.registration.institution_id,
        external_id=_assessment_external_id(launch.registration, link["id"]),
    ).first()
    url = reverse("dashboard:sessions")
    return url + "?" + urlencode({"assessment": str(assessment.public_id)}) if assessment else url


def deep_link_context(*, launch: Launch) -> dict:
    return {"launch": launch}
