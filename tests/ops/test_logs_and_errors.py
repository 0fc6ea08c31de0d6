"""Structured logs carry request and session ids; error reports leave without personal data."""

from __future__ import annotations

import json
import logging

import pytest
import sentry_sdk
from django.test import Client
from django.urls import path
from sentry_sdk.transport import Transport

from proctorme.errorreport import init_error_reporting
from proctorme.logs import ContextFilter, JsonFormatter
from sessions.config import parse_eye
from sessions.services import session_start

ORIGIN = "https://exams.alpha.edu"
EMAIL = "ada.lovelace@students.alpha.edu"
TOKEN_IN_QUERY = "tok_very_secret_query_value"
pytestmark = pytest.mark.django_db


def _start(tenant):
    request = parse_eye(
        {
            "apiKey": tenant.publishable_key,
            "assessmentId": "logic",
            "assessmentTitle": "Logic",
            "candidateId": "c-9",
            "candidateEmail": EMAIL,
            "candidateFirstName": "Ada",
            "candidateLastName": "Lovelace",
            "institutionName": "Alpha",
            "examDuration": 3600,
        }
    )
    return session_start(request=request, origin=ORIGIN)


@pytest.fixture
def records():
    captured: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = captured.append
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield captured
    root.removeHandler(handler)


def test_a_widget_request_logs_with_its_request_and_session_ids(client, tenant_a, records):
    started = _start(tenant_a)
    response = client.post(
        f"/widget/v1/sessions/{started.session.public_id}/media",
        {"meta": "not json"},
        HTTP_AUTHORIZATION=f"Bearer {started.token}",
        HTTP_ORIGIN=ORIGIN,
        HTTP_X_REQUEST_ID="req-from-the-proxy-42",
    )
    assert response.status_code == 400
    assert response["X-Request-ID"] == "req-from-the-proxy-42"
    (record,) = [r for r in records if r.name == "django.request"]
    assert record.request_id == "req-from-the-proxy-42"
    assert record.session_id == str(started.session.public_id)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "WARNING" and line["session_id"] == str(started.session.public_id)
    assert line["request_id"] == "req-from-the-proxy-42" and "Bad Request" in line["message"]


def test_a_made_up_request_id_is_replaced_and_ids_do_not_leak_between_requests(client, records):
    first = client.get("/no-such-page", HTTP_X_REQUEST_ID="<script>")
    second = client.get("/no-such-page")
    assert first["X-Request-ID"] != "<script>" and len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]
    ids = [r.request_id for r in records if r.name == "django.request"]
    assert ids == [first["X-Request-ID"], second["X-Request-ID"]]
    assert all(r.session_id == "-" for r in records if r.name == "django.request")


# --- error reporting ------------------------------------------------------------------------------


class _Capture(Transport):
    events: list[dict] = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type == "event":
                _Capture.events.append(json.loads(item.get_bytes()))


def _crashing_upload(request, session_id):
    from proctorme import logs

    logs.bind(session_id=session_id)
    candidate_email = EMAIL  # a local variable with personal data
    frame = request.FILES["frame"].read()  # candidate media in memory  # noqa: F841
    logging.getLogger("proctorme.test").error("upload failed for %s", candidate_email)
    raise ValueError(f"could not store the frame of {candidate_email}")


urlpatterns = [path("crash/<uuid:session_id>", _crashing_upload)]


@pytest.fixture
def reporting(settings):
    settings.ROOT_URLCONF = __name__
    _Capture.events = []
    init_error_reporting(dsn="https://public@errors.invalid/1", environment="test", transport=_Capture)
    yield _Capture.events
    sentry_sdk.get_client().close()
    # No client at all again, not ``sentry_sdk.init()`` without a DSN: that client still
    # carries the default integrations, and every later test's Redis and database calls
    # would go through their breadcrumb and span code.
    sentry_sdk.get_global_scope().set_client(None)


def test_error_reports_carry_the_stack_and_ids_but_no_personal_data_or_media(reporting, tenant_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    started = _start(tenant_a)
    frame = b"\xff\xd8\xff\xe0FRAMEBYTES-OF-THE-CANDIDATE" * 50
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "cookie-value-that-must-not-travel"
    response = client.post(
        f"/crash/{started.session.public_id}?token={TOKEN_IN_QUERY}&email={EMAIL}",
        {"frame": SimpleUploadedFile("f.jpg", frame, content_type="image/jpeg"), "email": EMAIL},
        HTTP_AUTHORIZATION=f"Bearer {started.token}",
        HTTP_X_REQUEST_ID="req-crash-000001",
    )
    assert response.status_code == 500
    sentry_sdk.flush()
    assert len(reporting) >= 2, reporting  # the logged error and the unhandled exception
    sent = json.dumps(reporting)
    for secret in (EMAIL, "ada.lovelace", TOKEN_IN_QUERY, started.token, "FRAMEBYTES", "cookie-value"):
        assert secret not in sent, f"{secret!r} left the server"
    crash = next(e for e in reporting if "exception" in e)
    (exception,) = crash["exception"]["values"]
    print("\nwhat an error report carries:", json.dumps(crash, indent=1)[:1500])
    assert exception["type"] == "ValueError" and "value" not in exception
    assert any(f["function"] == "_crashing_upload" for f in exception["stacktrace"]["frames"])
    assert all("vars" not in f for f in exception["stacktrace"]["frames"])
    # The test client's handler gives the SDK little request data; what there is stays bare.
    assert set(crash.get("request", {})) <= {"method", "url"}
    assert crash["tags"] == {"request_id": "req-crash-000001", "session_id": str(started.session.public_id)}
    assert {"message": "upload failed for %s"} in [e.get("logentry") for e in reporting]


def test_scrub_keeps_method_and_path_of_a_request_and_nothing_else():
    from proctorme.errorreport import scrub

    event = {
        "level": "error",
        "request": {
            "method": "POST",
            "url": f"https://proctor.alpha.edu/widget/v1/sessions/x/media?token={TOKEN_IN_QUERY}",
            "query_string": f"token={TOKEN_IN_QUERY}",
            "headers": {"Authorization": "Bearer sk_live", "Cookie": "sessionid=abc"},
            "cookies": {"sessionid": "abc"},
            "data": {"candidateEmail": EMAIL},
            "env": {"REMOTE_ADDR": "203.0.113.9"},
        },
        "user": {"email": EMAIL, "ip_address": "203.0.113.9"},
        "extra": {"email": EMAIL},
        "breadcrumbs": {"values": [{"message": EMAIL}]},
        "contexts": {"candidate": {"email": EMAIL}},
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": EMAIL,
                    "stacktrace": {
                        "frames": [
                            {"function": "f", "lineno": 3, "vars": {"email": EMAIL}, "pre_context": [EMAIL]}
                        ]
                    },
                }
            ]
        },
    }
    clean = scrub(event)
    assert clean["request"] == {
        "method": "POST",
        "url": "https://proctor.alpha.edu/widget/v1/sessions/x/media",
    }
    assert clean["exception"] == {
        "values": [{"type": "KeyError", "stacktrace": {"frames": [{"function": "f", "lineno": 3}]}}]
    }
    assert EMAIL not in json.dumps(clean) and "203.0.113.9" not in json.dumps(clean)
