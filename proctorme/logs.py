"""Log lines that carry the request and the proctoring session they belong to.

``RequestIdMiddleware`` gives every HTTP request an id (the proxy's
``X-Request-ID`` when it sends a sane one, else a new one), echoed in the
response's ``X-Request-ID``; code that resolves a proctoring session calls
``bind(session_id=...)`` (widget views, the widget socket) or wraps its work in
``log_context(session_id=...)`` (tasks). ``ContextFilter`` puts both on every
record; ``JsonFormatter`` (``LOG_FORMAT=json``) writes one JSON object a line.
Only ids are logged here: no names, addresses, tokens or media.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
session_id: contextvars.ContextVar[str] = contextvars.ContextVar("session_id", default="-")
_VARS = {"request_id": request_id, "session_id": session_id}
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def bind(**values: str) -> None:
    """Attach ids to everything logged from here on in this request or task."""
    for name, value in values.items():
        _VARS[name].set(str(value))


@contextlib.contextmanager
def log_context(**values: str) -> Iterator[None]:
    """Like ``bind``, undone at the end (a worker runs many tasks in one thread)."""
    tokens = [(_VARS[name], _VARS[name].set(str(value))) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current() -> dict[str, str]:
    return {name: var.get() for name, var in _VARS.items()}


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _VARS.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "session_id": getattr(record, "session_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RequestIdMiddleware:
    """Sync and async: under ASGI the chain stays on the event loop (a sync-only middleware
    makes Django run it, and all above it, on a thread, then hop back for the async ones).
    The ids are context variables, so they follow the request onto the view's thread and
    back (asgiref copies the context both ways)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self._acall(request)
        value = self._begin(request)
        response = self.get_response(request)
        response["X-Request-ID"] = value
        return response

    async def _acall(self, request):
        value = self._begin(request)
        response = await self.get_response(request)
        response["X-Request-ID"] = value
        return response

    @staticmethod
    def _begin(request) -> str:
        incoming = request.headers.get("X-Request-ID", "")
        value = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = value
        # Set, not undone at the end: Django logs a 4xx/5xx after the middleware returns.
        # The next request in this thread (or ASGI task) sets both again before anything.
        bind(request_id=value, session_id="-")
        return value
