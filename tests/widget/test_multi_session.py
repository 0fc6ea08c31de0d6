"""AutoProctor's multiSessionAttempt: a second browser or device opening the running attempt."""

import json

import pytest

from sessions.models import Flag, ProctoringSession
from tenants.services import attempt_sign

ORIGIN = "https://exams.alpha.edu"


def _open(client, tenant, *, browser: str, tracking: dict | None = None, policy: str | None = None):
    options = {"trackingOptions": tracking or {}}
    if policy:
        options["multiSessionAttemptPolicy"] = policy
    body = {
        "dialect": "autoproctor",
        "credentials": {
            "clientId": tenant.publishable_key,
            "testAttemptId": "att-77",
            "hashedTestAttemptId": attempt_sign(secret_key=tenant.secret_key, attempt_id="att-77"),
        },
        "options": options,
        "resumeSecret": f"resume-secret-of-{browser}-0123456789",
    }
    return client.post(
        "/widget/v1/sessions", data=json.dumps(body), content_type="application/json", HTTP_ORIGIN=ORIGIN
    )


def _flags():
    return list(Flag.objects.filter(type="MULTIPLE_SESSIONS").values_list("payload", flat=True))


def test_a_second_browser_is_flagged_and_allowed_by_default(client, tenant_a):
    assert (
        _open(client, tenant_a, browser="laptop", tracking={"multiSessionAttempt": True}).status_code == 201
    )
    assert _open(client, tenant_a, browser="laptop").status_code == 200  # a reload: the same browser
    assert _flags() == []
    # The second browser's page cannot switch the option off: the attempt's own settings count.
    second = _open(client, tenant_a, browser="phone", tracking={"multiSessionAttempt": False})
    assert second.status_code == 200 and second.json()["resumed"] is True
    assert _flags() == [{"origin": ORIGIN, "refused": False}]


def test_refuse_policy_refuses_the_second_browser_and_still_flags_it(client, tenant_a):
    first = _open(client, tenant_a, browser="laptop", tracking={"multiSessionAttempt": True}, policy="refuse")
    assert first.status_code == 201
    second = _open(client, tenant_a, browser="phone")
    assert second.status_code == 409 and second.json()["error"]["code"] == "ATTEMPT_IN_USE"
    assert _flags() == [{"origin": ORIGIN, "refused": True}]
    assert ProctoringSession.objects.get().status == "active"
    assert _open(client, tenant_a, browser="laptop").status_code == 200  # the first browser goes on


def test_without_the_option_a_second_browser_resumes_unflagged(client, tenant_a):
    assert _open(client, tenant_a, browser="laptop").status_code == 201
    assert _open(client, tenant_a, browser="phone").status_code == 200
    assert _flags() == []


@pytest.mark.parametrize("policy", ["allow", 3])
def test_an_unknown_policy_is_invalid_config(client, tenant_a, policy):
    response = _open(
        client, tenant_a, browser="laptop", tracking={"multiSessionAttempt": True}, policy=policy
    )
    assert response.status_code == 400
    assert "multiSessionAttemptPolicy" in response.json()["error"]["details"]["fields"]
