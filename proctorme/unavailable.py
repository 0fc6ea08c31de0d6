"""A database that is away for a moment answers 503, never 500.

PostgreSQL restarting, failing over or refusing connections surfaces as
``OperationalError`` / ``InterfaceError`` from wherever the request first
touched it (a view, a middleware, the session store). That is not a bug of
ours and not the client's fault: the answer is ``SERVICE_UNAVAILABLE`` (503) with
``Retry-After``, which the widget retries and integrators can branch on. Every
other unhandled error stays a logged 500.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views.defaults import server_error

from proctorme.errors import error_body

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def unavailable_response() -> JsonResponse:
    response = JsonResponse(error_body("SERVICE_UNAVAILABLE"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error_or_unavailable(request, *args, **kwargs):
    """``handler500``: Django calls it while handling the exception, so it can look at it."""
    exc = sys.exc_info()[1]
    if is_database_unavailable(exc):
        log.warning("database unavailable: %s %s answered 503", request.method, request.path)
        return unavailable_response()
    return server_error(request, *args, **kwargs)
