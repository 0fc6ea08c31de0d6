import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sessions.models import Event, Flag, ProctoringSession
from sessions.services import sessions_expire_overdue
from tenants.services import attempt_sign

ORIGIN = "https://exams.alpha.edu"


def eye_config(tenant, **overrides):
    config = {
        "apiKey": tenant.publishable_key,
        "assessmentId": "math-101",
        "assessmentTitle": "Mathematics 101",
        "candidateId": "cand-7",
        "candidateEmail": "ada@alpha.edu",
        "candidateFirstName": "Ada",
        "candidateLastName": "Lovelace",
        "institutionName": "Alpha University",
        "examDuration": 3600,
    }
    config.update(overrides)
    return {key: value for key, value in config.items() if value is not None}


def start(client, body, origin=ORIGIN):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(
        "/widget/v1/sessions", data=json.dumps(body), content_type="application/json", **headers
    )


def test_init_creates_a_session_and_returns_a_token(client, tenant_a):
    response = start(client, {"dialect": "eye", "config": eye_config(tenant_a)})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["resumed"] is False and body["status"] == "active"
    assert body["token"] and body["wsUrl"] == "ws://testserver/ws/widget/"  # the token is never in a URL
    assert body["settings"]["features"] == {"aiProctoring": True, "facialRecognition": True}
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    session = ProctoringSession.objects.get(public_id=body["sessionId"])
    assert session.institution == tenant_a.institution
    assert session.candidate.email == "ada@alpha.edu" and session.assessment.external_id == "math-101"
    assert (session.deadline_at - session.started_at).total_seconds() == pytest.approx(3660, abs=2)
    assert tenant_a.publishable_key not in json.dumps(session.config)


def test_same_attempt_while_active_resumes_without_a_duplicate(client, tenant_a):
    body = {"dialect": "eye", "config": eye_config(tenant_a), "resumeSecret": "the-same-browser-0123"}
    first = start(client, body).json()
    second = start(client, body)
    assert second.status_code == 200
    assert second.json()["sessionId"] == first["sessionId"] and second.json()["resumed"] is True
    assert ProctoringSession.objects.count() == 1


def test_after_the_end_the_same_attempt_is_refused(client, tenant_a):
    body = start(client, {"dialect": "eye", "config": eye_config(tenant_a)}).json()
    ended = client.post(
        f"/widget/v1/sessions/{body['sessionId']}/end",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {body['token']}",
        HTTP_ORIGIN=ORIGIN,
    )
    assert ended.status_code == 200 and ended.json()["status"] in {"finalising", "completed"}
    again = start(client, {"dialect": "eye", "config": eye_config(tenant_a)})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "SESSION_ENDED"
    assert again["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"candidateEmail": None}, {"candidateEmail"}),
        ({"assessmentId": "", "examDuration": None}, {"assessmentId", "examDuration"}),
        ({"examDuration": "soon"}, {"examDuration"}),
        ({"examDuration": -5}, {"examDuration"}),
        ({"candidateEmail": "not-an-email"}, {"candidateEmail"}),
        ({"features": {"aiProctoring": "yes"}}, {"features.aiProctoring"}),
        ({"candidateImageUrl": "javascript:alert(1)"}, {"candidateImageUrl"}),
    ],
)
def test_missing_or_malformed_fields_are_named(client, tenant_a, overrides, fields):
    response = start(client, {"dialect": "eye", "config": eye_config(tenant_a, **overrides)})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_CONFIG"
    assert set(error["details"]["fields"]) == fields
    assert not ProctoringSession.objects.exists()


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"dialect": "klingon"})])
def test_garbage_bodies_get_invalid_config(client, tenant_a, body):
    response = client.post(
        "/widget/v1/sessions", data=body, content_type="application/json", HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_CONFIG"


def test_key_and_origin_errors_have_their_codes_and_readable_cors(client, tenant_a):
    wrong_key = start(client, {"dialect": "eye", "config": eye_config(tenant_a, apiKey="pk_wrong")})
    assert wrong_key.status_code == 401 and wrong_key.json()["error"]["code"] == "INVALID_API_KEY"
    foreign = start(client, {"dialect": "eye", "config": eye_config(tenant_a)}, origin="https://evil.example")
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "DOMAIN_NOT_REGISTERED"
    assert foreign["Access-Control-Allow-Origin"] == "https://evil.example"
    missing = start(client, {"dialect": "eye", "config": eye_config(tenant_a)}, origin=None)
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "ORIGIN_REQUIRED"
    assert not ProctoringSession.objects.exists()


def test_autoproctor_start_with_base64_and_hex_hmac(client, tenant_a):
    signature = attempt_sign(secret_key=tenant_a.secret_key, attempt_id="att-1")
    body = {
        "dialect": "autoproctor",
        "credentials": {
            "clientId": tenant_a.publishable_key,
            "testAttemptId": "att-1",
            "hashedTestAttemptId": signature,
        },
        "options": {
            "track": {"impersonation": True, "numPhotosAtRandom": 5, "madeUpOption": True},
            "testDuration": 30,
            "userDetails": {"name": "Grace Hopper", "email": "grace@alpha.edu"},
        },
    }
    response = start(client, body)
    assert response.status_code == 201, response.content
    tracking = response.json()["settings"]["tracking"]
    assert tracking["impersonation"] is True and tracking["numPhotosAtRandom"] == 5
    assert tracking["numHumans"] is True
    assert "madeUpOption" not in tracking
    session = ProctoringSession.objects.get()
    assert session.dialect == "autoproctor" and session.candidate.first_name == "Grace"
    assert (session.deadline_at - session.started_at).total_seconds() == pytest.approx(1860, abs=2)
    import base64

    body["credentials"]["hashedTestAttemptId"] = base64.b64decode(signature).hex()
    assert start(client, body).status_code == 200


def test_autoproctor_bad_hmac_is_refused(client, tenant_a, tenant_b):
    for signature in ("bm9wZQ==", attempt_sign(secret_key=tenant_b.secret_key, attempt_id="att-1")):
        body = {
            "dialect": "autoproctor",
            "credentials": {
                "clientId": tenant_a.publishable_key,
                "testAttemptId": "att-1",
                "hashedTestAttemptId": signature,
            },
            "options": {},
        }
        response = start(client, body)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "INVALID_ATTEMPT_SIGNATURE"
    assert not ProctoringSession.objects.exists()


def test_autoproctor_validation(client, tenant_a):
    body = {
        "dialect": "autoproctor",
        "credentials": {"clientId": tenant_a.publishable_key, "testAttemptId": "x" * 41},
        "options": {"trackingOptions": {"forceFullScreen": True}},
    }
    response = start(client, body)
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]["fields"]) == {
        "testAttemptId",
        "hashedTestAttemptId",
        "testContainerId",
    }


def test_exam_duration_is_enforced_by_the_server(client, tenant_a):
    body = start(client, {"dialect": "eye", "config": eye_config(tenant_a, examDuration=600)}).json()
    session = ProctoringSession.objects.get(public_id=body["sessionId"])
    Flag.objects.create(
        institution=tenant_a.institution,
        session=session,
        type="TAB_NOT_FOCUS",
        episode_key="x",
        started_at=timezone.now(),
    )
    assert sessions_expire_overdue() == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=700)):
        assert sessions_expire_overdue() == 1
        again = start(client, {"dialect": "eye", "config": eye_config(tenant_a, examDuration=600)})
    session.refresh_from_db()
    assert session.status != "active" and session.end_reason == "time_up"
    assert session.ended_at == session.deadline_at
    assert again.json()["error"]["code"] == "SESSION_ENDED"
    flag = Flag.objects.get()
    assert flag.ended_at == session.ended_at  # open flags are closed at the end
    assert Event.objects.filter(session=session, type="END_PROCTORING").count() == 1


def test_an_overdue_session_is_ended_when_its_attempt_comes_back(client, tenant_a):
    start(client, {"dialect": "eye", "config": eye_config(tenant_a, examDuration=60)})
    with time_machine.travel(timezone.now() + timedelta(seconds=300)):
        again = start(client, {"dialect": "eye", "config": eye_config(tenant_a, examDuration=60)})
    assert again.json()["error"]["code"] == "SESSION_ENDED"
    assert ProctoringSession.objects.get().end_reason == "time_up"


def test_ending_is_idempotent_and_needs_the_sessions_token(client, tenant_a):
    first = start(client, {"dialect": "eye", "config": eye_config(tenant_a)}).json()
    other = start(client, {"dialect": "eye", "config": eye_config(tenant_a, candidateId="cand-8")}).json()
    url = f"/widget/v1/sessions/{first['sessionId']}/end"
    wrong = client.post(
        url,
        "{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {other['token']}",
        HTTP_ORIGIN=ORIGIN,
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "INVALID_TOKEN"
    bad_origin = client.post(
        url,
        "{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {first['token']}",
        HTTP_ORIGIN="https://exams.beta.edu",
    )
    assert bad_origin.status_code == 403
    assert ProctoringSession.objects.get(public_id=first["sessionId"]).status == "active"
    for _ in range(2):
        ok = client.post(
            url,
            "{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {first['token']}",
            HTTP_ORIGIN=ORIGIN,
        )
        assert ok.status_code == 200
    assert Event.objects.filter(type="END_PROCTORING").count() == 1


def test_final_score_is_computed_when_the_session_ends(client, tenant_a, django_capture_on_commit_callbacks):
    body = start(client, {"dialect": "eye", "config": eye_config(tenant_a)}).json()
    session = ProctoringSession.objects.get(public_id=body["sessionId"])
    now = timezone.now()
    Flag.objects.create(
        institution=tenant_a.institution,
        session=session,
        type="MULTIPLE_FACE",
        episode_key="a",
        started_at=now - timedelta(seconds=20),
        ended_at=now,
        duration_seconds=20,
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/widget/v1/sessions/{body['sessionId']}/end",
            "{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {body['token']}",
            HTTP_ORIGIN=ORIGIN,
        )
    session.refresh_from_db()
    assert session.status == "completed" and session.score_final
    # By hand (docs/trust-score.md): an exam of seconds counts as 10 minutes, so x = (0.3 × 1 + 0.3 × 20/60)
    # × 3600/600 = 2.4 → MULTIPLE_FACE costs 60 × (1 − e^−2.4) = 54.6.
    assert session.trust_score == 45.4
    deductions = sum(t["deduction"] for t in session.trust_breakdown["types"].values())
    assert deductions == pytest.approx(100 - session.trust_score, abs=0.05)


def test_widget_script_is_cacheable_with_a_version(client, settings, tmp_path):
    response = client.get("/widget.js")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/javascript")
    etag = response["ETag"]
    assert client.get("/widget.js", HTTP_IF_NONE_MATCH=etag).status_code == 304
    versioned = client.get(f"/widget.js?v={etag.strip(chr(34))}")
    assert "immutable" in versioned["Cache-Control"]


def test_preflight_allows_the_widget_headers(client):
    response = client.options(
        "/widget/v1/sessions", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in response["Access-Control-Allow-Headers"]
