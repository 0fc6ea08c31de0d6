"""The LTI endpoints an LMS calls (interfaces only: parse, call one service, answer).

``/lti/<institution>/jwks.json`` (our public keys), ``/login`` (OIDC third-party
login initiation) and ``/launch`` (the id_token form post) are per institution,
so a launch can only ever resolve to a registration of the institution whose
URL the LMS was given.
"""

from __future__ import annotations

import logging
from functools import wraps

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.core import signing
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from proctorme.errors import InvalidToken, ProctormeError, error_body
from sessions.dashboard import selectors as dashboard_selectors
from sessions.dashboard.views import dashboard_view
from sessions.lti import proctoring
from sessions.lti.errors import LtiError, LtiInvalidToken, LtiNotInstructor, LtiServiceNotOffered
from sessions.lti.keys import tool_jwks
from sessions.lti.launch import lti_launch_validate, lti_login_start
from sessions.lti.registrations import RegistrationExists
from tenants import two_factor
from tenants.models import Institution

log = logging.getLogger(__name__)


def _institution(institution_id) -> Institution:
    institution = Institution.objects.filter(public_id=institution_id).first()
    if institution is None:
        raise Http404("No such institution.")
    return institution


def jwks_view(request, institution_id):
    response = JsonResponse(tool_jwks(institution=_institution(institution_id)))
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _error_page(request, error: LtiError):
    response = render(request, "lti/error.html", {"error": error}, status=error.status)
    response["X-Proctorme-Error"] = error.code
    return response


def lti_refusals(view):
    """Every LtiError becomes the coded error page; nothing was started (see sessions.lti.launch)."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except (LtiError, InvalidToken, RegistrationExists) as error:
            log.info("LTI refusal %s: %s %s", error.code, error.message, error.details)
            return _error_page(request, error)

    return wrapper


@lti_refusals
def login_view(request, institution_id):
    params = request.POST if request.method == "POST" else request.GET
    institution = _institution(institution_id)
    redirect_uri = request.build_absolute_uri(reverse("lti-launch", args=[institution.public_id]))
    return redirect(lti_login_start(institution=institution, params=params, redirect_uri=redirect_uri))


@lti_refusals
def launch_view(request, institution_id):
    if request.method != "POST":
        raise LtiInvalidToken("The launch must be a form post of id_token and state.")
    institution = _institution(institution_id)
    if request.POST.get("error"):
        raise LtiError(
            request.POST.get("error_description") or "The platform refused the login.",
            details={"error": request.POST["error"]},
        )
    launch = lti_launch_validate(
        institution=institution,
        id_token=request.POST.get("id_token", ""),
        state=request.POST.get("state", ""),
    )
    if launch.message_type == "LtiStartProctoring":
        attempt = proctoring.lti_proctoring_start(launch=launch)
        return render(request, "lti/proctoring.html", proctoring.tool_page_context(request, attempt=attempt))
    if launch.message_type == "LtiEndAssessment":
        attempt = proctoring.lti_assessment_end(launch=launch)
        return render(request, "lti/ended.html", {"attempt": attempt})
    if launch.message_type == "LtiDeepLinkingRequest":
        # Adding proctoring to a link needs the LMS's staff role, not a dashboard account.
        if not proctoring.is_staff_launch(launch):
            raise LtiNotInstructor("Only instructors can add proctoring to a course.")
        return render(request, "lti/deep_link.html", proctoring.deep_link_context(launch=launch))
    # LtiResourceLinkRequest: staff go to the dashboard of this link's assessment; learners are told
    # that proctoring starts from the quiz itself.
    user = proctoring.lti_staff_login(launch=launch)
    if user is None and proctoring.is_staff_launch(launch):
        context = {"institution": institution, "username": proctoring.lti_staff_username(launch)}
        return render(request, "lti/no_access.html", context, status=403)
    if user is None:
        return render(request, "lti/learner.html", {"institution": institution})
    target = proctoring.dashboard_url(launch=launch)
    if two_factor.two_factor_enabled(user=user):
        # The LMS's sign-in is one factor; an account with two-factor login on still needs its code.
        ticket = signing.dumps(
            {"u": user.pk, "i": str(institution.public_id), "n": target}, salt=TWO_FACTOR_SALT
        )
        return render(request, "lti/two_factor.html", {"ticket": ticket, "institution": institution})
    _sign_in(request, user, institution)
    return redirect(target)


TWO_FACTOR_SALT = "proctorme.lti-two-factor.v1"
TWO_FACTOR_MAX_AGE = 300


def _sign_in(request, user, institution, device=None) -> None:
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if device is not None:
        otp_login(request, device)
    request.session[dashboard_selectors.SESSION_KEY] = str(institution.public_id)


@require_POST
def two_factor_view(request, institution_id):
    """The code step of an LMS staff launch for an account with two-factor login on."""
    institution = _institution(institution_id)
    try:
        data = signing.loads(request.POST.get("ticket", ""), salt=TWO_FACTOR_SALT, max_age=TWO_FACTOR_MAX_AGE)
    except signing.BadSignature:
        data = None
    user = (
        get_user_model().objects.filter(pk=data["u"], is_active=True).first()
        if data and data.get("i") == str(institution.public_id)
        else None
    )
    if user is None:
        error = LtiInvalidToken("The sign-in expired: open the tool from the LMS again.")
        return _error_page(request, error)
    device = two_factor.totp_verify(user=user, token=request.POST.get("token", ""))
    if device is None:
        context = {
            "ticket": request.POST["ticket"],
            "institution": institution,
            "error": _("That code is not right. Enter the current code from your authenticator app."),
        }
        return render(request, "lti/two_factor.html", context, status=400)
    _sign_in(request, user, institution, device)
    target = data.get("n") or ""
    return redirect(target if target.startswith("/dashboard/") else reverse("dashboard:sessions"))


@csrf_exempt
def start_assessment_view(request, attempt_id):
    """The tool page asks for the signed LtiStartAssessment once the widget is monitoring."""
    if request.method != "POST":
        return JsonResponse(error_body("METHOD_NOT_ALLOWED", "Use POST."), status=405)
    try:
        url, token = proctoring.lti_start_assessment_message(
            ticket=request.POST.get("ticket", ""), attempt_id=attempt_id
        )
    except ProctormeError as error:
        return JsonResponse({"error": error.as_dict()}, status=error.status)
    return JsonResponse({"url": url, "jwt": token})


@lti_refusals
def deep_link_view(request, institution_id):
    """The instructor's deep-linking form answer: auto-post the signed response to the LMS."""
    if request.method != "POST":
        raise LtiInvalidToken("Submit the deep-linking form.")
    institution = _institution(institution_id)
    try:
        minutes = int(request.POST.get("minutes") or 0) or None
    except ValueError:
        minutes = None
    if minutes is not None and not 1 <= minutes <= 24 * 60:
        minutes = None
    url, token = proctoring.lti_deep_link_respond(
        institution=institution,
        ticket=request.POST.get("ticket", ""),
        title=request.POST.get("title", ""),
        minutes=minutes,
        disabled=request.POST.getlist("disabled"),
    )
    return render(request, "lti/form_post.html", {"action": url, "fields": {"JWT": token}})


@require_POST
@dashboard_view()
def session_control_view(request, session_id):
    """A reviewer's pause / resume / extend / terminate, sent to the LMS over ACS."""
    from sessions.dashboard.selectors import session_get
    from sessions.lti.services import lti_session_control

    session = session_get(
        institution=request.dash.institution, courses=request.dash.courses, public_id=session_id
    )
    action = request.POST.get("action", "")
    try:
        minutes = int(request.POST.get("minutes") or 0)
    except ValueError:
        minutes = 0
    try:
        answer = lti_session_control(
            session=session,
            action=action,
            actor=request.user,
            extra_time=minutes * 60 if action == "update" else None,
            reason=request.POST.get("reason", ""),
        )
    except LtiServiceNotOffered as error:
        messages.error(request, _("Nothing was done (%(code)s): %(message)s") % error.as_dict())
    except LtiError as error:
        # Our side changed already (sessions.lti.services.session_control): only the LMS refused.
        messages.warning(
            request,
            _("Done for proctoring; the LMS did not take it (%(code)s): %(message)s") % error.as_dict(),
        )
    except ProctormeError as error:
        messages.error(request, _("Nothing was done (%(code)s): %(message)s") % error.as_dict())
    else:
        messages.success(
            request,
            _("Done for proctoring and the LMS; it reports the attempt as %(status)s.")
            % {"status": answer.get("status", "?")},
        )
    return redirect("dashboard:session", session_id=session.public_id)


@lti_refusals
def register_view(request, institution_id):
    """LTI Dynamic Registration, opened by the LMS with the institution's registration link."""
    from django.conf import settings

    from sessions.lti.dynamic import lti_dynamic_register

    institution = _institution(institution_id)
    registration = lti_dynamic_register(
        institution=institution,
        link_token=request.GET.get("token", ""),
        openid_configuration=request.GET.get("openid_configuration", ""),
        registration_token=request.GET.get("registration_token", ""),
        base_url=settings.SITE_URL,
    )
    return render(request, "lti/registered.html", {"registration": registration, "institution": institution})
