"""Results by the integrator's own ids: AutoProctor's testAttemptId, Eye's assessmentId + candidateId."""

import json

from tenants.services import attempt_sign

ORIGIN = "https://exams.alpha.edu"


def _start(client, body):
    response = client.post(
        "/widget/v1/sessions", data=json.dumps(body), content_type="application/json", HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 201, response.content
    return response.json()["sessionId"]


def _eye(client, tenant, assessment, candidate):
    config = {
        "apiKey": tenant.publishable_key,
        "assessmentId": assessment,
        "assessmentTitle": "Exam",
        "candidateId": candidate,
        "candidateEmail": f"{candidate}@alpha.edu",
        "candidateFirstName": "Ada",
        "candidateLastName": "Lovelace",
        "institutionName": "Alpha",
        "examDuration": 600,
    }
    return _start(client, {"dialect": "eye", "config": config})


def _ap(client, tenant, attempt):
    credentials = {
        "clientId": tenant.publishable_key,
        "testAttemptId": attempt,
        "hashedTestAttemptId": attempt_sign(secret_key=tenant.secret_key, attempt_id=attempt),
    }
    return _start(client, {"dialect": "autoproctor", "credentials": credentials, "options": {}})


def _ids(api, query: str) -> list[str]:
    response = api.get(f"/api/v1/sessions?{query}")
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_sessions_are_found_by_the_integrators_own_ids(client, api_a, api_b, tenant_a):
    math_ada = _eye(client, tenant_a, "math-101", "ada")
    math_bob = _eye(client, tenant_a, "math-101", "bob")
    physics_ada = _eye(client, tenant_a, "phys-1", "ada")
    attempt = _ap(client, tenant_a, "quiz-9-attempt-4")
    _ap(client, tenant_a, "quiz-9-attempt-5")

    assert _ids(api_a, "assessmentId=math-101&candidateId=ada") == [math_ada]
    assert sorted(_ids(api_a, "assessmentId=math-101")) == sorted([math_ada, math_bob])
    assert sorted(_ids(api_a, "candidateId=ada")) == sorted([math_ada, physics_ada])
    assert _ids(api_a, "testAttemptId=quiz-9-attempt-4") == [attempt]
    assert _ids(api_a, "testAttemptId=quiz-9-attempt-6") == []
    # An Eye session is never found by a testAttemptId, even one that looks like its attempt id.
    assert _ids(api_a, "testAttemptId=eye:math-101:ada") == []
    # Another institution finds nothing by the same ids.
    assert _ids(api_b, "testAttemptId=quiz-9-attempt-4") == []
    assert _ids(api_b, "assessmentId=math-101&candidateId=ada") == []


def test_an_over_long_test_attempt_id_is_a_validation_error(api_a):
    response = api_a.get("/api/v1/sessions?testAttemptId=" + "x" * 41)
    assert response.status_code == 400
    assert "testAttemptId" in response.json()["error"]["details"]["fields"]
