"""The widget's HTTP interface: start/resume, end, the script, a speed probe.

Every endpoint here is called cross-origin from an institution's exam page.
The start endpoint reflects any Origin in CORS headers because its answer is
either an error code (which the widget must be able to read to report
DOMAIN_NOT_REGISTERED) or a token issued only after the origin was checked.
Token-authenticated endpoints check the request's Origin against the
token's origin themselves and answer CORS only to that origin.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotModified, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from proctorme import logs
from proctorme.errors import (
    DomainNotRegistered,
    InvalidConfig,
    InvalidMedia,
    InvalidToken,
    MethodNotAllowed,
    OriginRequired,
    ProctormeError,
    SessionEnded,
    error_body,
)
from proctorme.ops import client_address
from proctorme.times import iso
from sessions.config import parse_autoproctor, parse_eye, parse_resume_secret
from sessions.models import ProctoringSession
from sessions.rows import session_with_related
from sessions.services import session_end, session_origin_allowed, session_start
from sessions.tokens import session_token_key_check, session_token_read
from sessions.uploads import MediaTooLarge, media_store, parse_upload
from sessions.widget_script import widget_builds, widget_manifest, widget_script

CORS_HEADERS = "Authorization, Content-Type, X-Proctorme-Seq, X-Proctorme-Captured-At, X-Proctorme-Duration"
MAX_START_BODY = 64 * 1024


def error_response(error: ProctormeError) -> JsonResponse:
    return JsonResponse(error_body(error.code, error.message, error.details), status=error.status)


def with_cors(response, origin: str | None):
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Headers"] = CORS_HEADERS
        response["Access-Control-Allow-Methods"] = "GET, POST, PUT, OPTIONS"
        response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


def preflight(request):
    return with_cors(HttpResponse(status=204), request.headers.get("Origin"))


def widget_post(view):
    """CORS preflight, POST only, and every ProctormeError as a readable JSON error."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":
            return preflight(request)
        try:
            if request.method != "POST":
                raise MethodNotAllowed("Use POST.")
            response = view(request, *args, **kwargs)
        except ProctormeError as error:
            response = error_response(error)
        return with_cors(response, origin)

    return wrapper


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path)


def _ws_url(request) -> str:
    """No token in it: the widget sends the token in the socket's first message (proxies log URLs)."""
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}/ws/widget/"


@widget_post
def session_start_view(request):
    if len(request.body) > MAX_START_BODY:
        raise InvalidConfig("The request is too large.", details={"fields": {"config": "Too large."}})
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidConfig("The body is not JSON.", details={"fields": {"body": "Not JSON."}}) from None
    if not isinstance(body, dict):
        raise InvalidConfig("The body must be an object.", details={"fields": {"body": "Must be an object."}})
    dialect = body.get("dialect", "eye")
    if dialect == "eye":
        start = parse_eye(body.get("config"))
    elif dialect == "autoproctor":
        start = parse_autoproctor(body.get("credentials"), body.get("options"))
    elif dialect == "lti":
        start = None
    else:
        raise InvalidConfig("Unknown dialect.", details={"fields": {"dialect": "Use eye or autoproctor."}})
    if start is None:
        # The LMS tool page: the launch ticket is the credential (sessions.lti.proctoring).
        from sessions.lti.proctoring import lti_session_start, tool_origin

        config = body.get("config") if isinstance(body.get("config"), dict) else {}
        result = lti_session_start(
            ticket=str(config.get("launchTicket") or ""),
            origin=request.headers.get("Origin"),
            tool_origin=tool_origin(request),
        )
    else:
        start.resume_secret = parse_resume_secret(body.get("resumeSecret"))
        result = session_start(
            request=start, origin=request.headers.get("Origin"), client_ip=client_address(request)
        )
    session = result.session
    logs.bind(session_id=session.public_id)
    session_path = str(session.public_id)
    payload = {
        "sessionId": session_path,
        "token": result.token,
        "resumed": result.resumed,
        "status": session.status,
        "wsUrl": _ws_url(request),
        "uploadUrl": _absolute(request, reverse("widget-media-upload", args=[session.public_id])),
        "endUrl": _absolute(request, reverse("widget-session-end", args=[session.public_id])),
        "checkUrl": _absolute(request, reverse("widget-frame-check", args=[session.public_id])),
        "serverTime": iso(timezone.now()),
        "startedAt": iso(session.started_at),
        "deadlineAt": iso(session.deadline_at),
        "examEndsAt": iso(session.started_at + timedelta(seconds=session.config.get("examSeconds", 0))),
        "lastClientSeq": session.last_client_seq,
        "settings": {
            **{key: session.config.get(key) for key in ("features", "tracking", "capture")},
            # Devices the widget asks for (an accommodation may exempt the camera or microphone).
            "media": session.config.get("media") or {"camera": True, "microphone": True},
            "warnings": bool(session.config.get("warnings", False)),
            # What the consent screen tells the candidate: the assessment's retention, if it has one.
            "retentionDays": session.assessment.retention_days or session.institution.retention_days,
        },
    }
    tracking = session.config.get("tracking") or {}
    if tracking.get("idCardVerification"):
        payload["idCardUrl"] = _absolute(request, reverse("widget-id-card", args=[session.public_id]))
    if tracking.get("auxiliaryDevice"):
        payload["auxPairingUrl"] = _absolute(request, reverse("widget-aux-pairing", args=[session.public_id]))
        payload["auxStatusUrl"] = _absolute(request, reverse("widget-aux-status", args=[session.public_id]))
    return JsonResponse(payload, status=200 if result.resumed else 201)


def session_from_token(request, session_public_id) -> ProctoringSession:
    """The session named in the URL, if the bearer token is for it and the Origin is its page's."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else request.GET.get("token")
    claims = session_token_read(token)
    if claims["session"] != str(session_public_id):
        raise InvalidToken("The token is for another session.")
    session_token_key_check(claims)
    origin = request.headers.get("Origin")
    # One joined statement written once (the ORM compiled the same select_related afresh on
    # every upload: 1,800 an hour per candidate at the widget's 2-s cadence).
    session = session_with_related(session_public_id)
    if session is None:
        raise InvalidToken("The token is for another session.")
    logs.bind(session_id=session.public_id)
    if not origin:
        # Every browser sends Origin with the widget's cross-origin POSTs: a request without one
        # is not the widget on a page, and the token alone is not enough.
        raise OriginRequired()
    if origin != claims["origin"] or not session_origin_allowed(session=session, origin=origin):
        raise DomainNotRegistered("This page may not use the session.")
    return session


def _credential_text(credentials: dict, name: str, limit: int = 2000) -> str:
    value = credentials.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


@widget_post
def report_view(request):
    """AutoProctor's showReport(): the report of one attempt, for a page holding a credential for it."""
    from sessions.reports import report_for_page, report_session_for_page

    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
    credentials = body.get("credentials") if isinstance(body, dict) else None
    if not isinstance(credentials, dict):
        raise InvalidConfig(
            "The body must carry credentials.", details={"fields": {"credentials": "Must be an object."}}
        )
    session = report_session_for_page(
        client_id=_credential_text(credentials, "clientId", 200),
        origin=request.headers.get("Origin"),
        test_attempt_id=_credential_text(credentials, "testAttemptId", 40),
        hashed_test_attempt_id=_credential_text(credentials, "hashedTestAttemptId"),
        report_token=_credential_text(credentials, "reportToken"),
    )
    response = JsonResponse(report_for_page(session=session))
    response["Cache-Control"] = "no-store"
    return response


@widget_post
def session_end_view(request, session_id):
    session = session_from_token(request, session_id)
    try:
        reason = json.loads(request.body or b"{}").get("reason", "ended")
    except (ValueError, AttributeError, RecursionError):
        reason = "ended"
    if not isinstance(reason, str) or reason not in {"ended", "destroyed", "stopped"}:
        reason = "ended"
    session = session_end(session=session, reason=reason)
    return JsonResponse({"status": session.status, "endedAt": iso(session.ended_at)})


@widget_post
def media_upload_view(request, session_id):
    session = session_from_token(request, session_id)
    items = parse_upload(request.POST.get("meta"), request.FILES)
    accepted, duplicates = media_store(session=session, items=items)
    return JsonResponse({"accepted": accepted, "duplicates": duplicates}, status=202)


CHECK_FRAME_MAX_BYTES = 512 * 1024


@widget_post
def frame_check_view(request, session_id):
    """The system check's look at the candidate: one JPEG from the camera (the body, image/jpeg)
    → ``{result: ok | absent | covered | dark | several, faces, brightness}``. Nothing is stored."""
    from analysis.frames import InvalidImage, analyse_frame, decode_jpeg
    from sessions.analysis_pipeline import frame_sensitivity
    from sessions.candidate_warnings import frame_check
    from sessions.scoring import detector_settings_for

    session = session_from_token(request, session_id)
    if session.status != ProctoringSession.Status.ACTIVE:
        raise SessionEnded(details={"endedAt": iso(session.ended_at), "reason": session.end_reason})
    body = request.body
    if len(body) > CHECK_FRAME_MAX_BYTES:
        raise MediaTooLarge(details={"limit": CHECK_FRAME_MAX_BYTES})
    try:
        rgb = decode_jpeg(body)
    except InvalidImage as exc:
        raise InvalidMedia(f"The check frame is not a JPEG: {exc}") from None
    obs = analyse_frame(rgb, sensitivity=frame_sensitivity(detector_settings_for(session)))
    observation = {"faces": obs.face_count, "blocked": obs.blocked, "brightness": round(obs.brightness, 1)}
    if obs.blocked:
        observation["blockedReason"] = obs.blocked_reason
    return JsonResponse(frame_check(observation))


YEAR = "public, max-age=31536000, immutable"


def _script_response(request, build, *, minified: bool, cache_control: str) -> HttpResponse:
    """The script, gzipped when the browser accepts it (one URL never serves two scripts, so
    the build's version is the ETag, marked when the bytes are gzipped)."""
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    etag = f'"{build.version}{"-gz" if gzipped else ""}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        body = build.body(minified=minified, gzipped=gzipped)
        response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
        if gzipped:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    response["Vary"] = "Accept-Encoding"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def widget_script_view(request):
    """/widget.js: the current build, minified; ``?v=<version>`` makes it cacheable for a year."""
    build = widget_script()
    pinned = request.GET.get("v") == build.version
    cache = YEAR if pinned else "public, max-age=300, must-revalidate"
    return _script_response(request, build, minified=True, cache_control=cache)


def widget_build_view(request, build, name):
    """/widget/<build>/widget.js (readable) and widget.min.js: immutable, listed in the manifest."""
    found = widget_builds().get(build)
    if found is None or name not in {"widget.js", "widget.min.js"}:
        return JsonResponse({"error": {"code": "NOT_FOUND", "message": "No such widget build."}}, status=404)
    return _script_response(request, found, minified=name == "widget.min.js", cache_control=YEAR)


def widget_manifest_view(request):
    """Every build this server serves, with its immutable URLs and SRI hashes."""
    response = JsonResponse(widget_manifest(base_url=_absolute(request, "/").rstrip("/")))
    response["Cache-Control"] = "public, max-age=300, must-revalidate"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def widget_declarations_view(request):
    content = (settings.BASE_DIR / "static" / "proctorme" / "widget.d.ts").read_bytes()
    response = HttpResponse(content, content_type="application/typescript; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    return response


def ping_view(request):
    """A download the widget times for its internet-speed check."""
    try:
        size = min(max(int(request.GET.get("bytes", "0")), 0), 1_000_000)
    except ValueError:
        size = 0
    response = HttpResponse(b"0" * size, content_type="application/octet-stream")
    response["Cache-Control"] = "no-store"
    response["Access-Control-Allow-Origin"] = "*"
    return response
