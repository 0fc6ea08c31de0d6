"""One error format for the whole integrator API.

Every refusal is ``{"error": {"code", "message", "details"}}`` with a stable
``code`` clients can branch on. DRF's own exceptions (validation, parsing,
authentication, throttling, 404, 405 …), Django's Http404 and our
ProctormeError all pass through :func:`api_exception_handler`; anything else
is logged and answered as INTERNAL_ERROR so not even a bug leaks a stack
trace or an HTML page to an integrator.
"""

from __future__ import annotations

import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from proctorme.errors import ProctormeError, error_body, error_code
from proctorme.unavailable import RETRY_AFTER_SECONDS, is_database_unavailable

log = logging.getLogger(__name__)


class NotFound(ProctormeError):
    code = "NOT_FOUND"


class AuthenticationRequired(ProctormeError):
    code = "AUTHENTICATION_REQUIRED"


class SessionAlreadyEnded(ProctormeError):
    code = "SESSION_ALREADY_ENDED"


class AlreadyExists(ProctormeError):
    code = "ALREADY_EXISTS"


# DRF exception class → our code. Looked up along the MRO, most specific first.
_DRF_CODES: dict[type, str] = {
    cls: error_code(code).code
    for cls, code in {
        exceptions.ValidationError: "VALIDATION_ERROR",
        exceptions.ParseError: "MALFORMED_REQUEST",
        exceptions.NotAuthenticated: "AUTHENTICATION_REQUIRED",
        exceptions.AuthenticationFailed: "INVALID_API_KEY",
        exceptions.PermissionDenied: "PERMISSION_DENIED",
        exceptions.NotFound: "NOT_FOUND",
        exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
        exceptions.NotAcceptable: "NOT_ACCEPTABLE",
        exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
        exceptions.Throttled: "RATE_LIMITED",
    }.items()
}


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [f"{key}: {message}" for key, value in detail.items() for message in _flatten(value)]
    if isinstance(detail, list):
        return [message for item in detail for message in _flatten(item)]
    return [str(detail)]


def _field_errors(detail) -> dict[str, list]:
    """DRF's nested detail → {field: [messages]}; errors of the body as a whole go under ``non_field``."""
    if isinstance(detail, dict):
        return {
            ("non_field" if key == "non_field_errors" else key): (
                value if isinstance(value, dict) else _flatten(value)
            )
            for key, value in detail.items()
        }
    return {"non_field": _flatten(detail)}


def _drf_error(exc: exceptions.APIException) -> tuple[int, dict, dict]:
    code = next((_DRF_CODES[cls] for cls in type(exc).__mro__ if cls in _DRF_CODES), "ERROR")
    headers: dict[str, str] = {}
    details: dict = {}
    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        message = "Some fields are invalid: " + ", ".join(sorted(fields)) + "."
        details = {"fields": fields}
    else:
        message = " ".join(_flatten(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait or 1))
        headers["Retry-After"] = str(wait)
        message = f"Too many requests for this API key; retry in {wait} seconds."
        details = {"retryAfter": wait}
    elif isinstance(exc, exceptions.MethodNotAllowed):
        details = {"method": exc.detail.split('"')[1] if '"' in exc.detail else ""}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    return exc.status_code, error_body(code, message, details), headers


def api_exception_handler(exc, context):
    headers: dict[str, str] = {}
    if isinstance(exc, ProctormeError):
        status_code, body = exc.status, {"error": exc.as_dict()}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
    elif isinstance(exc, Http404):
        status_code, body = 404, error_body("NOT_FOUND")
    elif isinstance(exc, DjangoPermissionDenied):
        status_code, body = 403, error_body("PERMISSION_DENIED")
    elif isinstance(exc, exceptions.APIException):
        status_code, body, headers = _drf_error(exc)
    elif is_database_unavailable(exc):
        log.warning("database unavailable in the integrator API: %s", exc)
        status_code, body = 503, error_body("SERVICE_UNAVAILABLE")
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    else:
        log.exception("unhandled error in the integrator API", exc_info=exc)
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
        body = error_body("INTERNAL_ERROR")
    set_rollback()
    return Response(body, status=status_code, headers=headers)
