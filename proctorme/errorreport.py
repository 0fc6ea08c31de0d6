"""Optional error reporting to a Sentry-compatible service (``SENTRY_DSN``), scrubbed.

Off unless ``SENTRY_DSN`` is set. What leaves the server is an allow-list, built
again from scratch for every event by ``scrub`` — never the SDK's event with
parts removed — so a field a future SDK adds is dropped too:

* kept: the exception's *type* and stack (file, function, line, source line),
  the log message *template* (``"upload failed for %s"``, not its arguments),
  level, logger, the request's method and path (no query string), the view
  name, and our ``request_id`` / ``session_id`` (random ids, no meaning outside
  this server), the release and environment;
* dropped: exception messages, local variables, log arguments, request headers,
  cookies, query strings and bodies (tokens, uploads: frames and audio), user,
  breadcrumbs, extra data and every other context.

Candidate media and personal data therefore never reach the service, whatever
the code raised.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from proctorme import logs

_FRAME_KEYS = ("filename", "abs_path", "module", "function", "lineno", "colno", "in_app", "context_line")


def _frames(stacktrace: dict | None) -> dict | None:
    if not isinstance(stacktrace, dict):
        return None
    frames = [{k: f[k] for k in _FRAME_KEYS if k in f} for f in stacktrace.get("frames") or []]
    return {"frames": frames}


def _exception(value: dict) -> dict:
    kept = {k: value[k] for k in ("type", "module") if k in value}
    mechanism = value.get("mechanism")
    if isinstance(mechanism, dict):
        kept["mechanism"] = {k: mechanism[k] for k in ("type", "handled") if k in mechanism}
    stack = _frames(value.get("stacktrace"))
    if stack:
        kept["stacktrace"] = stack
    return kept


def _url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def scrub(event: dict, hint: dict | None = None) -> dict:
    """before_send: the event rebuilt from the allow-list above."""
    clean = {
        k: event[k]
        for k in ("event_id", "timestamp", "level", "logger", "platform", "release", "environment", "sdk")
        if k in event
    }
    if isinstance(event.get("transaction"), str):
        clean["transaction"] = event["transaction"]
    values = (event.get("exception") or {}).get("values") or []
    if values:
        clean["exception"] = {"values": [_exception(v) for v in values if isinstance(v, dict)]}
    entry = event.get("logentry") or {}
    template = entry.get("message") if isinstance(entry, dict) else None
    if isinstance(template, str):
        clean["logentry"] = {"message": template}
    request = event.get("request") or {}
    if isinstance(request, dict) and request:
        clean["request"] = {
            k: v for k, v in (("method", request.get("method")), ("url", _url(request.get("url", "")))) if v
        }
    clean["tags"] = logs.current()
    return clean


def init_error_reporting(*, dsn: str, environment: str, release: str | None = None, **options) -> None:
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        # What the SDK collects at all (the first wall; scrub is the second).
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "off"}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "stack_frame_variables": False,
            "database_query_data": False,
            "queues": False,
        },
        include_local_variables=False,
        max_request_body_size="never",
        max_breadcrumbs=0,
        traces_sample_rate=None,
        before_send=scrub,
        before_send_transaction=lambda event, hint: None,
        **options,
    )
