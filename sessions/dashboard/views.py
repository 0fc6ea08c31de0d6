"""Dashboard pages: parse, call one selector or service, render.

Every view goes through ``dashboard_view``, which resolves the user's current
institution (the switcher's choice, only while they are a member) once and
hands it on; objects are then looked up by public id *within* it, so another
institution's session, flag or file is a 404 like a missing one. Admin-only
pages answer 403 to reviewers.
"""

from __future__ import annotations

import csv
import itertools
from functools import wraps

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from proctorme.errors import ProctormeError
from sessions import accommodations, intervention, scorecard
from sessions.accommodations import accommodation_summary
from sessions.dashboard import selectors, services
from sessions.dashboard.forms import (
    AccommodationForm,
    DismissForm,
    InterventionExtendForm,
    InterventionMessageForm,
    InterventionPauseForm,
    InterventionTerminateForm,
    SessionFilterForm,
    SwitchForm,
    VerdictForm,
)
from sessions.lti.selectors import lti_session_panel
from sessions.lti.services import ControlResult, session_control
from sessions.media import media_response
from sessions.models import ProctoringSession


def dashboard_view(*, admin_only: bool = False, course_instructors: bool = False):
    """``admin_only``: 403 for reviewers; ``course_instructors``: an admin-only page that LMS course
    instructors may see too, for their own courses (the selectors take ``dash.courses``)."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            dash = selectors.dashboard_context(
                user=request.user, chosen=request.session.get(selectors.SESSION_KEY)
            )
            if dash is None:
                return render(request, "dashboard/no_institution.html", status=403)
            if admin_only and not (dash.is_admin or (course_instructors and dash.is_course_instructor)):
                return render(request, "dashboard/forbidden.html", {"dash": dash}, status=403)
            request.dash = dash
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def home(request):
    """``/``: the dashboard for people who are signed in, the demo exam for everyone else."""
    return redirect("dashboard:sessions" if request.user.is_authenticated else "demo")


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- institution switcher ---------------------------------------------------------------------


@require_POST
@dashboard_view()
def switch_view(request):
    form = SwitchForm(request.POST)
    if form.is_valid():
        wanted = str(form.cleaned_data["institution"])
        if any(str(i.public_id) == wanted for i in request.dash.institutions):
            request.session[selectors.SESSION_KEY] = wanted
    # Objects belong to one institution: land on a list, never on the page of the one before.
    target = form.data.get("next", "")
    if not (
        url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
        and target.startswith("/dashboard/")
        and "/sessions/" not in target
    ):
        target = reverse("dashboard:sessions")
    return redirect(target)


# --- sessions list and CSV ------------------------------------------------------------------------


def _filter_form(request) -> SessionFilterForm:
    form = SessionFilterForm(
        request.GET or None,
        assessments=selectors.assessments_for(
            institution=request.dash.institution, courses=request.dash.courses
        ),
    )
    form.is_valid()
    return form


@require_GET
@dashboard_view()
def sessions_view(request):
    form = _filter_form(request)
    queryset = selectors.session_list(
        institution=request.dash.institution, courses=request.dash.courses, filters=form.filters()
    )
    per_page = (form.cleaned_data.get("per_page") if form.is_bound else None) or 25
    page = Paginator(queryset, per_page).get_page(request.GET.get("page"))
    selectors.session_list_page_prefetch(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "dashboard/sessions.html",
        {
            "dash": request.dash,
            "nav": "sessions",
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "bands": selectors.BANDS,
        },
    )


class _Echo:
    def write(self, value):
        return value


CSV_HEADER = [
    "session_id",
    "candidate_id",
    "candidate_name",
    "candidate_email",
    "assessment_id",
    "assessment_title",
    "status",
    "started_at",
    "ended_at",
    "trust_score",
    "risk",
    "reviewed_score",
    "flags",
    "verdict",
    "verdict_notes",
    "accommodation",
]


def _csv_safe(value) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: quote them."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(queryset):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for s in queryset.iterator(chunk_size=500):
        band = scorecard.band_or_unscored(s.trust_score)
        yield writer.writerow(
            [
                _csv_safe(v)
                for v in (
                    s.public_id,
                    s.candidate.external_id,
                    str(s.candidate),
                    s.candidate.email,
                    s.assessment.external_id,
                    s.assessment.title,
                    s.status,
                    s.started_at.isoformat(),
                    s.ended_at.isoformat() if s.ended_at else "",
                    s.trust_score,
                    band,
                    s.reviewed_score,
                    s.flag_count,
                    s.verdict,
                    s.verdict_notes,
                    accommodation_summary(scorecard.score_accommodation(s)),
                )
            ]
        )


def _take(rows, n: int) -> str:
    return "".join(itertools.islice(rows, n))


async def _csv_rows_async(queryset):
    """The same rows for an ASGI server, which would otherwise read a sync iterator to the end
    into memory before sending a byte. Every chunk runs in the same worker thread, so the
    queryset's cursor stays on one connection."""
    rows = _csv_rows(queryset)
    while chunk := await sync_to_async(_take, thread_sensitive=True)(rows, 500):
        yield chunk


@require_GET
@dashboard_view()
def sessions_csv_view(request):
    form = _filter_form(request)
    queryset = selectors.session_list(
        institution=request.dash.institution, courses=request.dash.courses, filters=form.filters()
    )
    rows = _csv_rows_async(queryset) if isinstance(request, ASGIRequest) else _csv_rows(queryset)
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="sessions-{request.dash.institution.slug}-{stamp}.csv"'
    )
    return response


# --- one session: replay and review ---------------------------------------------------------------


END_REASONS = {
    "ended": gettext_lazy("ended by the candidate"),
    "stopped": gettext_lazy("stopped by the exam page"),
    "destroyed": gettext_lazy("exam page closed"),
    "time_up": gettext_lazy("time ran out"),
    "server": gettext_lazy("ended by the server"),
    "lms_ended": gettext_lazy("ended by the LMS (quiz submitted)"),
    "lms_terminated": gettext_lazy("terminated through the LMS"),
    "terminated": gettext_lazy("terminated by a proctor"),
}


def _session_context(request, session: ProctoringSession, **extra) -> dict:
    replay = selectors.session_replay(session=session)
    return {
        "dash": request.dash,
        "nav": "sessions",
        "session": session,
        "candidate": session.candidate,
        "replay": replay,
        "score": selectors.score_view(session),
        "progress": selectors.analysis_progress(session=session)
        if session.status == ProctoringSession.Status.FINALISING
        else None,
        "audit": selectors.audit_log(session=session),
        "verdict_form": extra.pop("verdict_form", None)
        or VerdictForm(initial={"verdict": session.verdict, "notes": session.verdict_notes}),
        "dismiss_errors": extra.pop("dismiss_errors", {}),
        "end_reason": END_REASONS.get(session.end_reason, session.end_reason),
        "lms": lti_session_panel(session=session),
        **extra,
    }


@require_GET
@dashboard_view()
def session_view(request, session_id):
    session = selectors.session_get(
        institution=request.dash.institution, courses=request.dash.courses, public_id=session_id
    )
    return render(request, "dashboard/session.html", _session_context(request, session))


@require_GET
@dashboard_view()
def session_report_pdf_view(request, session_id):
    """The session report as PDF (sessions.report_pdf), for every member of the institution."""
    from sessions.report_pdf import report_filename, session_report_pdf

    session = selectors.session_get(
        institution=request.dash.institution, courses=request.dash.courses, public_id=session_id
    )
    response = HttpResponse(session_report_pdf(session=session), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report_filename(session)}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@dashboard_view()
def session_progress_view(request, session_id):
    session = selectors.session_get(
        institution=request.dash.institution, courses=request.dash.courses, public_id=session_id
    )
    if session.status != ProctoringSession.Status.FINALISING:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    progress = selectors.analysis_progress(session=session)
    return render(request, "dashboard/_progress.html", {"session": session, "progress": progress})


def _back_to_session(request, session, status: int = 200, **extra):
    """After a review action: the page again (htmx swaps the changed parts), or a redirect."""
    if _is_htmx(request) or status != 200:
        # htmx swaps 2xx answers only: a form error is shown in place with a 200 there.
        return render(
            request,
            "dashboard/session.html",
            _session_context(request, session, **extra),
            status=200 if _is_htmx(request) else status,
        )
    return redirect("dashboard:session", session_id=session.public_id)


@require_POST
@dashboard_view()
def verdict_view(request, session_id):
    session = selectors.session_get(
        institution=request.dash.institution, courses=request.dash.courses, public_id=session_id
    )
    form = VerdictForm(request.POST)
    if not form.is_valid():
        return _back_to_session(request, session, status=400, verdict_form=form)
    services.session_verdict_set(
        session=session,
        actor=request.user,
        verdict=form.cleaned_data["verdict"],
        notes=form.cleaned_data["notes"],
    )
    messages.success(
        request,
        _("Verdict saved: %(verdict)s.")
        % {"verdict": ProctoringSession.Verdict(form.cleaned_data["verdict"]).label},
    )
    session.refresh_from_db()
    return _back_to_session(request, session)


@require_POST
@dashboard_view()
def flag_dismiss_view(request, session_id, flag_id):
    session = selectors.session_get(
        institution=request.dash.institution, courses=request.dash.courses, public_id=session_id
    )
    flag = selectors.flag_get(session=session, public_id=flag_id)
    form = DismissForm(request.POST)
    if not form.is_valid():
        return _back_to_session(
            request, session, status=400, dismiss_errors={str(flag.public_id): _("Give a reason.")}
        )
    return _review_change(
        request,
        session,
        lambda: services.flag_dismiss(flag=flag, actor=request.user, reason=form.cleaned_data["reason"]),
        done=_("%(type)s dismissed as a false positive.") % {"type": flag.type},
    )


@require_POST
@dashboard_view()
def flag_restore_view(request, session_id, flag_id):
    session = selectors.session_get(
        institution=request.dash.institution, courses=request.dash.courses, public_id=session_id
    )
    flag = selectors.flag_get(session=session, public_id=flag_id)
    return _review_change(
        request,
        session,
        lambda: services.flag_restore(flag=flag, actor=request.user),
        done=_("%(type)s restored.") % {"type": flag.type},
    )


def _review_change(request, session, change, *, done: str):
    """Run one review service, tell the reviewer how it went, and go back to the session."""
    try:
        change()
    except services.ReviewError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    session.refresh_from_db()
    return _back_to_session(request, session)


@require_GET
@dashboard_view()
def media_view(request, media_id):
    chunk = selectors.media_get(
        institution=request.dash.institution, courses=request.dash.courses, public_id=media_id
    )
    return media_response(chunk, max_age=3600)


# --- live -------------------------------------------------------------------------------------------


def _live_context(request, chosen_id: str) -> dict:
    sessions = selectors.live_sessions(institution=request.dash.institution, courses=request.dash.courses)
    chosen = next((s for s in sessions if str(s.public_id) == chosen_id), None)
    return {
        "dash": request.dash,
        "nav": "live",
        "sessions": sessions,
        "intervention": selectors.live_intervention(session=chosen) if chosen else None,
        "forms": {
            "message": InterventionMessageForm(),
            "pause": InterventionPauseForm(),
            "terminate": InterventionTerminateForm(),
            "extend": InterventionExtendForm(),
        },
        "feed": sorted(
            ((flag, s) for s in sessions for flag in s.recent_flags),
            key=lambda pair: pair[0].started_at,
            reverse=True,
        )[:12],
    }


@require_GET
@dashboard_view()
def live_view(request):
    return render(request, "dashboard/live.html", _live_context(request, request.GET.get("session", "")))


# --- live intervention ------------------------------------------------------------------------------


def _control(action: str, fields):
    """Pause, resume, extend or terminate through sessions.lti.services.session_control: the
    proctoring session, and the LMS's attempt too when the session came from an LMS."""

    def act(session, user, data):
        return session_control(session=session, action=action, actor=user, **fields(data))

    return act


INTERVENTIONS = {
    "message": (
        InterventionMessageForm,
        lambda session, user, data: intervention.message_send(session=session, text=data["text"], actor=user),
        _("Message sent; it stays on the candidate's screen until they acknowledge it."),
    ),
    "pause": (
        InterventionPauseForm,
        _control("pause", lambda data: {"reason": data["reason"]}),
        _("Session paused: capture and the clock are stopped."),
    ),
    "resume": (
        None,
        _control("resume", lambda data: {}),
        _("Session resumed; the deadline moved by the time it was paused."),
    ),
    "extend": (
        InterventionExtendForm,
        _control("extend", lambda data: {"seconds": data["minutes"] * 60}),
        _("More time given."),
    ),
    "terminate": (
        InterventionTerminateForm,
        _control("terminate", lambda data: {"reason": data["reason"]}),
        _("Attempt terminated."),
    ),
}


@require_POST
@dashboard_view()
def intervene_view(request, session_id, action):
    """One live intervention by a member of the session's institution (another's: 404)."""
    session = selectors.session_get(
        institution=request.dash.institution, courses=request.dash.courses, public_id=session_id
    )
    form_class, act, done = INTERVENTIONS[action]
    data = {}
    if form_class is not None:
        form = form_class(request.POST)
        if not form.is_valid():
            return _live_refusal(request, session, "VALIDATION_ERROR", form.errors.as_text(), status=400)
        data = form.cleaned_data
    try:
        result = act(session, request.user, data)
    except ProctormeError as exc:
        return _live_refusal(request, session, exc.code, exc.message, status=exc.status)
    messages.success(request, done)
    _lms_outcome(request, result)
    return redirect(f"{reverse('dashboard:live')}?session={session.public_id}#intervene")


def _lms_outcome(request, result) -> None:
    """What the LMS said, when the session is an LMS attempt and it was asked too."""
    if isinstance(result, ControlResult) and result.lms_error is not None:
        messages.warning(
            request,
            _("The LMS did not take it (%(code)s): %(message)s")
            % {"code": result.lms_error.code, "message": result.lms_error.message},
        )
    elif isinstance(result, ControlResult) and result.lms is not None:
        messages.info(
            request,
            _("The LMS reports the attempt as %(status)s.") % {"status": result.lms.get("status", "?")},
        )


def _live_refusal(request, session, code: str, message: str, *, status: int):
    """The live page again, saying why nothing was done (the code is the registry's)."""
    context = _live_context(request, str(session.public_id))
    context["refusal"] = {"code": code, "message": message}
    return render(request, "dashboard/live.html", context, status=status)


# --- accommodations (admins) ------------------------------------------------------------------------


def _accommodation_form(request, data=None) -> AccommodationForm:
    page = selectors.accommodations_page(institution=request.dash.institution)
    return AccommodationForm(data, candidates=page["candidates"], assessments=page["assessments"]), page


@require_http_methods(["GET", "POST"])
@dashboard_view(admin_only=True)
def accommodations_view(request):
    form, page = _accommodation_form(request, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            candidate = next(c for c in page["candidates"] if str(c.public_id) == data["candidate"])
            assessment = next(
                (a for a in page["assessments"] if str(a.public_id) == data["assessment"]), None
            )
            accommodations.accommodation_set(
                candidate=candidate,
                assessment=assessment,
                extra_seconds=data["extra_minutes"] * 60,
                time_multiplier=data["time_multiplier"],
                disabled_detectors=data["disabled_detectors"],
                note=data["note"],
                actor=request.user,
            )
            messages.success(request, _("Accommodation saved for %(candidate)s.") % {"candidate": candidate})
            return redirect("dashboard:accommodations")
        status = 400
    return render(
        request,
        "dashboard/accommodations.html",
        {"dash": request.dash, "nav": "accommodations", "form": form, **page},
        status=status,
    )


@require_POST
@dashboard_view(admin_only=True)
def accommodation_delete_view(request, accommodation_id):
    found = selectors.accommodation_get(institution=request.dash.institution, public_id=accommodation_id)
    accommodations.accommodation_remove(accommodation=found, actor=request.user)
    messages.success(request, _("Accommodation removed."))
    return redirect("dashboard:accommodations")


# --- overview (admins) --------------------------------------------------------------------------


@require_GET
@dashboard_view(admin_only=True, course_instructors=True)
def overview_view(request):
    return render(
        request,
        "dashboard/overview.html",
        {
            "dash": request.dash,
            "nav": "overview",
            "overview": selectors.institution_overview(
                institution=request.dash.institution, courses=request.dash.courses
            ),
        },
    )
