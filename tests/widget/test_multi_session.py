"""AutoProctor's multiSessionAttempt: a second browser or device opening the running attempt."""

import json

import pytest

from sessions.models import Flag, ProctoringSession
from tenants.services import attempt_sign

ORIGIN = "https://exams.alpha.edu"


def _open(
    client,
    tenant,
    *,
    browser: str,
    tracking: dict | None = None,
    policy: str | None = None,
    ip: str = "127.0.0.1",
):
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
        "/widget/v1/sessions",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        REMOTE_ADDR=ip,
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


def test_the_own_browser_resuming_from_another_address_is_flagged_once_and_allowed(client, tenant_a):
    on = {"multiSessionAttempt": True}
    # Even with "refuse": a changed address is the candidate's network, not a second browser.
    first = _open(client, tenant_a, browser="laptop", tracking=on, policy="refuse", ip="198.51.100.7")
    assert first.status_code == 201
    assert ProctoringSession.objects.get().client_ip == "198.51.100.7"
    assert _open(client, tenant_a, browser="laptop", ip="198.51.100.7").status_code == 200
    assert _flags() == []  # a reload on the same network
    moved = _open(client, tenant_a, browser="laptop", ip="203.0.113.50")
    assert moved.status_code == 200 and moved.json()["resumed"] is True
    assert _flags() == [{"origin": ORIGIN, "refused": False, "reason": "ip_changed"}]
    assert ProctoringSession.objects.get().client_ip == "203.0.113.50"
    # Once per change: further resumes on the new network add nothing.
    assert _open(client, tenant_a, browser="laptop", ip="203.0.113.50").status_code == 200
    assert len(_flags()) == 1


def test_a_client_sent_forwarded_for_header_does_not_change_the_address(client, tenant_a):
    on = {"multiSessionAttempt": True}
    assert _open(client, tenant_a, browser="laptop", tracking=on, ip="198.51.100.7").status_code == 201
    client.defaults["HTTP_X_FORWARDED_FOR"] = "203.0.113.99"
    assert _open(client, tenant_a, browser="laptop", ip="198.51.100.7").status_code == 200
    assert _flags() == [] and ProctoringSession.objects.get().client_ip == "198.51.100.7"


def test_a_second_browser_on_another_address_is_flagged_as_today_and_keeps_the_address(client, tenant_a):
    on = {"multiSessionAttempt": True}
    assert _open(client, tenant_a, browser="laptop", tracking=on, ip="198.51.100.7").status_code == 201
    assert _open(client, tenant_a, browser="phone", ip="203.0.113.50").status_code == 200
    assert _flags() == [{"origin": ORIGIN, "refused": False}]
    # The address is the attempt's own browser's: the laptop going on where it was is no change.
    assert ProctoringSession.objects.get().client_ip == "198.51.100.7"
    assert _open(client, tenant_a, browser="laptop", ip="198.51.100.7").status_code == 200
    assert len(_flags()) == 1


def test_without_the_option_no_address_is_kept_nor_a_change_flagged(client, tenant_a):
    assert _open(client, tenant_a, browser="laptop", ip="198.51.100.7").status_code == 201
    assert _open(client, tenant_a, browser="laptop", ip="203.0.113.50").status_code == 200
    assert _flags() == [] and ProctoringSession.objects.get().client_ip is None
