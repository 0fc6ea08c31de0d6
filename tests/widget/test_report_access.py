"""showReport()'s server side: who may read one attempt's report from a page."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from sessions.models import Flag, ProctoringSession
from sessions.services import session_end
from tenants.services import attempt_sign

ORIGIN = "https://exams.alpha.edu"


def _post(client, path, body, origin=ORIGIN):
    return client.post(path, data=json.dumps(body), content_type="application/json", HTTP_ORIGIN=origin)


def _api(key):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def _credentials(tenant, attempt):
    return {
        "clientId": tenant.publishable_key,
        "testAttemptId": attempt,
        "hashedTestAttemptId": attempt_sign(secret_key=tenant.secret_key, attempt_id=attempt),
    }


def _start(client, tenant, attempt) -> ProctoringSession:
    body = {"dialect": "autoproctor", "credentials": _credentials(tenant, attempt), "options": {}}
    response = _post(client, "/widget/v1/sessions", body)
    assert response.status_code == 201, response.content
    session = ProctoringSession.objects.get(public_id=response.json()["sessionId"])
    Flag.objects.create(
        institution=session.institution,
        session=session,
        type="TAB_NOT_FOCUS",
        episode_key="t-1",
        started_at=timezone.now(),
        description="Left the tab",
    )
    return session


def _report(client, credentials, origin=ORIGIN):
    return _post(client, "/widget/v1/report", {"credentials": credentials}, origin)


def _code(response):
    return response.json()["error"]["code"]


@pytest.fixture
def attempts(client, tenant_a):
    return _start(client, tenant_a, "quiz-1-a"), _start(client, tenant_a, "quiz-1-b")


def test_a_report_credential_reads_its_attempt_from_a_registered_page(client, tenant_a, attempts):
    mine, other = attempts
    made = _api(tenant_a.secret_key).post(
        f"/api/v1/sessions/{mine.public_id}/report-credentials", {}, format="json"
    )
    assert made.status_code == 201, made.content
    token = made.json()["reportToken"]
    assert token.startswith("rpt_") and made.json()["testAttemptId"] == "quiz-1-a"
    # Running or not, the server's credential opens the report.
    for credentials in (
        {"clientId": tenant_a.publishable_key, "reportToken": token},
        {"clientId": tenant_a.publishable_key, "testAttemptId": "quiz-1-a", "hashedTestAttemptId": token},
    ):
        response = _report(client, credentials)
        assert response.status_code == 200, response.content
        report = response.json()
        assert report["testAttemptId"] == "quiz-1-a" and [f["type"] for f in report["flags"]] == [
            "TAB_NOT_FOCUS"
        ]
        assert response["Access-Control-Allow-Origin"] == ORIGIN
    # Not for another attempt, not from a page elsewhere.
    wrong = {"clientId": tenant_a.publishable_key, "testAttemptId": "quiz-1-b", "reportToken": token}
    assert _code(_report(client, wrong)) == "INVALID_REPORT_CREDENTIAL"
    elsewhere = _report(
        client, {"clientId": tenant_a.publishable_key, "reportToken": token}, "https://evil.example"
    )
    assert _code(elsewhere) == "DOMAIN_NOT_REGISTERED"
    assert _code(_report(client, {"clientId": tenant_a.publishable_key, "reportToken": token + "x"})) == (
        "INVALID_REPORT_CREDENTIAL"
    )


def test_a_report_credential_expires(client, tenant_a, attempts, time_machine):
    mine, _ = attempts
    api = _api(tenant_a.secret_key)
    made = api.post(
        f"/api/v1/sessions/{mine.public_id}/report-credentials", {"ttlSeconds": 120}, format="json"
    )
    token = made.json()["reportToken"]
    assert _report(client, {"clientId": tenant_a.publishable_key, "reportToken": token}).status_code == 200
    time_machine.move_to(timezone.now() + timedelta(seconds=180))
    assert _code(_report(client, {"clientId": tenant_a.publishable_key, "reportToken": token})) == (
        "INVALID_REPORT_CREDENTIAL"
    )
    too_long = api.post(
        f"/api/v1/sessions/{mine.public_id}/report-credentials", {"ttlSeconds": 10**7}, format="json"
    )
    assert too_long.status_code == 400


def test_a_report_credential_starts_resumes_and_ends_nothing(client, tenant_a, attempts):
    mine, _ = attempts
    token = (
        _api(tenant_a.secret_key)
        .post(f"/api/v1/sessions/{mine.public_id}/report-credentials", {}, format="json")
        .json()["reportToken"]
    )
    # Not a session token: it cannot end the session or upload to it.
    ended = client.post(
        f"/widget/v1/sessions/{mine.public_id}/end",
        data="{}",
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert ended.status_code == 401 and _code(ended) == "INVALID_TOKEN"
    # Not an attempt signature: it cannot start or resume the attempt.
    body = {
        "dialect": "autoproctor",
        "credentials": {
            "clientId": tenant_a.publishable_key,
            "testAttemptId": "quiz-1-a",
            "hashedTestAttemptId": token,
        },
        "options": {},
    }
    assert _code(_post(client, "/widget/v1/sessions", body)) == "INVALID_ATTEMPT_SIGNATURE"
    # Not a key of the REST API.
    assert _api(token).get("/api/v1/sessions").status_code == 401
    mine.refresh_from_db()
    assert mine.status == ProctoringSession.Status.ACTIVE


def test_attempt_credentials_read_only_a_finished_attempt_and_only_when_allowed(client, tenant_a, attempts):
    mine, _ = attempts
    credentials = _credentials(tenant_a, "quiz-1-a")
    session_end(session=mine)
    # Off by default: the candidate's own credentials see nothing.
    assert _code(_report(client, credentials)) == "REPORT_NOT_AVAILABLE"
    tenant_a.institution.attempt_credentials_open_report = True
    tenant_a.institution.save()
    response = _report(client, credentials)
    assert response.status_code == 200 and response.json()["testAttemptId"] == "quiz-1-a"
    # A running attempt stays closed; a forged hash is refused.
    assert _code(_report(client, _credentials(tenant_a, "quiz-1-b"))) == "REPORT_NOT_AVAILABLE"
    forged = dict(credentials, hashedTestAttemptId=attempt_sign(secret_key="sk_guess", attempt_id="quiz-1-a"))
    assert _code(_report(client, forged)) == "INVALID_ATTEMPT_SIGNATURE"


def test_an_outsider_gets_nothing(client, tenant_a, tenant_b, attempts):
    mine, _ = attempts
    outsider = _api(tenant_b.secret_key).post(
        f"/api/v1/sessions/{mine.public_id}/report-credentials", {}, format="json"
    )
    assert outsider.status_code == 404
    # tenant_a's credential is worthless with another institution's key.
    token = (
        _api(tenant_a.secret_key)
        .post(f"/api/v1/sessions/{mine.public_id}/report-credentials", {}, format="json")
        .json()["reportToken"]
    )
    response = _report(
        client, {"clientId": tenant_b.publishable_key, "reportToken": token}, "https://exams.beta.edu"
    )
    assert _code(response) == "INVALID_REPORT_CREDENTIAL"
