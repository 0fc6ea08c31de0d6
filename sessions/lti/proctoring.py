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
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from proctorme.errors import DomainNotRegistered, InvalidToken, SessionEnded
from sessions.config import DEFAULT_AUTOPROCTOR_SECONDS, parse_eye
from sessions.lti.errors import LtiError, LtiNotReady, LtiUnknownAttempt
from sessions.lti.keys import tool_sign
from sessions.lti.launch import LTI, LTI_AGS, LTI_AP, LTI_DL, Launch
from sessions.lti.models import LtiAttempt, LtiCourseAccess, LtiRegistration
from sessions.models import Assessment, Event, ProctoringSession
from sessions.services import StartResult, session_end, session_start_for_institution
from tenants.models import Membership

TICKET_SALT = "proctorme.lti-ticket.v1"
TICKET_MAX_AGE = 4 * 3600
START_ASSESSMENT_TTL = 300
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
# Roles in the launch's context (the course): they see that course's sessions on the dashboard.
COURSE_ROLES = {
    LIS + "membership#Instructor",
    LIS + "membership#Administrator",
    LIS + "membership#ContentDeveloper",
    LIS + "membership/Instructor#TeachingAssistant",
}
# Roles over the whole LMS: the registration's staff_reviewers switch makes them reviewers of the
# institution. (institution/person#Instructor is not among either: Canvas sends it to a teacher of
# any course, also where they are a learner.)
LMS_ADMIN_ROLES = {
    LIS + "institution/person#Administrator",
    LIS + "system/person#Administrator",
    LIS + "system/person#SysAdmin",
}
STAFF_ROLES = COURSE_ROLES | LMS_ADMIN_ROLES
# LTI 1.1-style short names some platforms still send: context roles.
STAFF_SHORT_ROLES = {"Instructor", "Administrator", "ContentDeveloper", "TeachingAssistant"}


def _short(value: str, limit: int) -> str:
    return (
        value
        if len(value) <= limit
        else value[: limit - 41] + ":" + hashlib.sha256(value.encode()).hexdigest()[:40]
    )


def _assessment_external_id(registration: LtiRegistration, resource_link_id: str) -> str:
    return _short(f"lti:{registration.public_id}:{resource_link_id}", 200)


CUSTOM_ASSESSMENT = "proctorme_assessment"


def _linked_assessment(*, registration: LtiRegistration, claims: dict, resource_link_id: str) -> str:
    """The assessment a launch is for: the one an instructor deep-linked (its id in the link's
    custom parameters, looked up in this institution only), else one per resource link."""
    custom = claims.get(LTI + "custom") or {}
    linked = custom.get(CUSTOM_ASSESSMENT) if isinstance(custom, dict) else None
    if isinstance(linked, str):
        try:
            found = (
                Assessment.objects.filter(
                    institution_id=registration.institution_id, public_id=uuid.UUID(linked)
                )
                .values_list("external_id", flat=True)
                .first()
            )
        except ValueError:
            found = None
        if found:
            return found
    return _assessment_external_id(registration, resource_link_id)


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
    assessment_id = _linked_assessment(
        registration=registration, claims=claims, resource_link_id=attempt.resource_link_id
    )
    assessment = Assessment.objects.filter(
        institution_id=attempt.institution_id, external_id=assessment_id
    ).first()
    seconds = (assessment.duration_seconds if assessment else None) or DEFAULT_AUTOPROCTOR_SECONDS
    sub = attempt.user_sub
    email = claims.get("email") or ""
    config = {
        "apiKey": "lti",  # not checked: the ticket is the credential
        "assessmentId": assessment_id,
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
    # The consent notice and the checks in the LMS user's language (the widget picks the nearest it
    # ships, else the page's, else the browser's).
    presentation = attempt.claims.get(LTI + "launch_presentation") or {}
    locale = presentation.get("locale") if isinstance(presentation, dict) else None
    if isinstance(locale, str) and 0 < len(locale) <= 35:
        widget_config["locale"] = locale
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
    claims = {
        **_tool_message(registration, "LtiStartAssessment", attempt.deployment_id),
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


def lti_staff_username(launch: Launch) -> str:
    return (
        "lti-"
        + hashlib.sha256(f"{launch.registration.public_id}:{launch.claims['sub']}".encode()).hexdigest()[:40]
    )


def is_staff_launch(launch: Launch) -> bool:
    return is_course_staff(launch) or is_lms_admin(launch)


def is_course_staff(launch: Launch) -> bool:
    return any(role in COURSE_ROLES or role in STAFF_SHORT_ROLES for role in launch.roles)


def is_lms_admin(launch: Launch) -> bool:
    return any(role in LMS_ADMIN_ROLES for role in launch.roles)


def _context(launch: Launch) -> tuple[str, str]:
    context = launch.claim(LTI + "context") or {}
    if not isinstance(context, dict):
        return "", ""
    return str(context.get("id") or "")[:255], str(context.get("title") or context.get("label") or "")[:300]


def _lti_user(launch: Launch):
    user, created = get_user_model().objects.get_or_create(
        username=lti_staff_username(launch),
        defaults={
            "email": (launch.claim("email") or "")[:254],
            "first_name": (launch.claim("given_name") or "")[:150],
            "last_name": (launch.claim("family_name") or "")[:150],
        },
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def lti_staff_login(*, launch: Launch):
    """The user an instructor or LMS administrator is signed in as, or None.

    * An instructor (teaching assistant, content developer, course
      administrator) of the launch's course gets an account without a password
      and an ``LtiCourseAccess`` to that course: the dashboard then shows them
      the sessions of attempts launched from that course only
      (sessions.dashboard.selectors).
    * An LMS institution or system administrator becomes a reviewer of the
      whole institution when the registration's ``staff_reviewers`` switch is
      on; with it off they get their launch's course, like an instructor.
    * Someone an admin already made a member keeps that membership.

    LMS roles never grant our ``admin`` role (keys, webhooks, members): that is
    given in our own admin only. A learner gets None, and so does staff
    launching without a course and without a membership.
    """
    course_staff, lms_admin = is_course_staff(launch), is_lms_admin(launch)
    if not (course_staff or lms_admin):
        return None
    registration = launch.registration
    institution_id = registration.institution_id
    if lms_admin and registration.staff_reviewers:
        user = _lti_user(launch)
        Membership.objects.get_or_create(
            institution_id=institution_id, user=user, defaults={"role": Membership.Role.REVIEWER}
        )
        return user
    context_id, context_title = _context(launch)
    if not context_id:
        # No course to scope to: only someone an admin already made a member gets in.
        return (
            get_user_model()
            .objects.filter(username=lti_staff_username(launch), memberships__institution_id=institution_id)
            .first()
        )
    user = _lti_user(launch)
    LtiCourseAccess.objects.update_or_create(
        registration=registration,
        user=user,
        context_id=context_id,
        defaults={
            "institution_id": institution_id,
            "context_title": context_title,
            "roles": [r for r in launch.roles if isinstance(r, str)][:20],
            "last_launch_at": timezone.now(),
        },
    )
    return user


def dashboard_url(*, launch: Launch) -> str:
    link = launch.claim(LTI + "resource_link")
    external_id = _linked_assessment(
        registration=launch.registration, claims=launch.claims, resource_link_id=link["id"]
    )
    assessment = Assessment.objects.filter(
        institution_id=launch.registration.institution_id, external_id=external_id
    ).first()
    url = reverse("dashboard:sessions")
    return url + "?" + urlencode({"assessment": str(assessment.public_id)}) if assessment else url


DEEP_LINK_SALT = "proctorme.lti-deep-link.v1"
DEEP_LINK_MAX_AGE = 3600
# What an instructor may switch off for the quiz (sessions.analysis_pipeline's detectors).
DETECTOR_CHOICES = [
    ("FACE_ABSENCE", "No face in view"),
    ("MULTIPLE_FACE", "Several people"),
    ("LOOKING_AWAY", "Looking away"),
    ("CAMERA_BLOCKED", "Camera covered"),
    ("FACE_MISMATCH", "Someone else (identity)"),
    ("SOUND_DETECTED", "Voices"),
    ("PERIODIC_SNAPSHOT", "Random photos"),
]


def deep_link_context(*, launch: Launch) -> dict:
    """The instructor's form: what the link will proctor, signed so the answer cannot change whose it is."""
    settings_claim = launch.claim(LTI_DL + "deep_linking_settings")
    context = launch.claim(LTI + "context") or {}
    ticket = signing.dumps(
        {
            "r": str(launch.registration.public_id),
            "d": launch.deployment_id,
            "u": settings_claim["deep_link_return_url"],
            "x": settings_claim.get("data"),
        },
        salt=DEEP_LINK_SALT,
    )
    return {
        "ticket": ticket,
        "course": context.get("title", "") if isinstance(context, dict) else "",
        "detectors": DETECTOR_CHOICES,
        "action": reverse("lti-deep-link", args=[launch.registration.institution.public_id]),
    }


def lti_deep_link_respond(
    *, institution, ticket: str, title: str, minutes: int | None, disabled: list[str]
) -> tuple[str, str]:
    """Make the assessment the instructor described and sign the LtiDeepLinkingResponse.

    Returns (deep_link_return_url, JWT). The link carries the assessment's id as a custom
    parameter; launches of it use that assessment's duration and detector switches.
    """
    try:
        data = signing.loads(ticket or "", salt=DEEP_LINK_SALT, max_age=DEEP_LINK_MAX_AGE)
    except signing.BadSignature:
        raise InvalidToken("The deep-linking form expired: open the tool picker again.") from None
    registration = LtiRegistration.objects.filter(institution=institution, public_id=data.get("r")).first()
    if registration is None:
        raise InvalidToken("The deep-linking form is for another institution.")
    known = {name for name, _ in DETECTOR_CHOICES}
    assessment = Assessment.objects.create(
        institution=institution,
        external_id=f"lti-dl:{registration.public_id}:{uuid.uuid4()}",
        title=(title or "Proctored quiz").strip()[:300],
        duration_seconds=minutes * 60 if minutes else None,
        detector_settings={
            "disabled": sorted({*institution_disabled(institution), *(d for d in disabled if d in known)})
        },
    )
    claims = {
        **_tool_message(registration, "LtiDeepLinkingResponse", data["d"]),
        LTI_DL + "content_items": [
            {
                "type": "ltiResourceLink",
                "title": assessment.title,
                "text": "Proctored by Proctorme",
                "url": settings.SITE_URL.rstrip("/") + reverse("lti-launch", args=[institution.public_id]),
                "custom": {CUSTOM_ASSESSMENT: str(assessment.public_id)},
            }
        ],
        LTI_DL + "msg": f"Proctoring added: {assessment.title}",
    }
    if data.get("x") is not None:
        claims[LTI_DL + "data"] = data["x"]
    return data["u"], tool_sign(institution=institution, claims=claims)


def institution_disabled(institution) -> list[str]:
    layer = institution.detector_settings or {}
    return list(layer.get("disabled") or []) if isinstance(layer, dict) else []


def _tool_message(registration, message_type: str, deployment_id: str) -> dict:
    """The claims every message the tool signs back to the LMS starts with (short-lived, one nonce)."""
    now = int(time.time())
    return {
        "iss": registration.client_id,
        "aud": registration.issuer,
        "iat": now,
        "exp": now + START_ASSESSMENT_TTL,
        "nonce": secrets.token_urlsafe(24),
        LTI + "message_type": message_type,
        LTI + "version": "1.3.0",
        LTI + "deployment_id": deployment_id,
    }
