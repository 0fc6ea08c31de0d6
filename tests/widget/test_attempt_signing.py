"""The attempt-signing key (as_…): signs attempt ids, and opens nothing else."""

import hashlib
import json

import pytest
from django.urls import reverse

from sessions.models import ProctoringSession
from tenants.models import ApiKey
from tenants.services import api_key_create, api_key_revoke, attempt_sign

ORIGIN = "https://exams.alpha.edu"


@pytest.fixture
def signing_key(tenant_a) -> str:
    return api_key_create(institution=tenant_a.institution, kind=ApiKey.Kind.SIGNING, name="LMS")[1]


def ap_start(client, tenant, attempt: str, signature: str, *, client_id: str | None = None):
    body = {
        "dialect": "autoproctor",
        "credentials": {
            "clientId": client_id or tenant.publishable_key,
            "testAttemptId": attempt,
            "hashedTestAttemptId": signature,
        },
        "options": {},
    }
    return client.post(
        "/widget/v1/sessions", data=json.dumps(body), content_type="application/json", HTTP_ORIGIN=ORIGIN
    )


def test_signing_key_signs_attempts_as_the_moodle_plugin_does(client, tenant_a, signing_key):
    assert signing_key.startswith("as_")
    response = ap_start(
        client,
        tenant_a,
        "quiz-7-attempt-3",
        attempt_sign(secret_key=signing_key, attempt_id="quiz-7-attempt-3"),
    )
    assert response.status_code == 201, response.content
    assert ProctoringSession.objects.filter(attempt_id="ap:quiz-7-attempt-3").exists()


def test_signing_key_also_accepts_the_wordpress_plugins_hash(client, tenant_a, signing_key):
    # autoproctor.php getHashedTestAttemptId: hex sha256 of the attempt id followed by the secret.
    legacy = hashlib.sha256(("wp-42" + signing_key).encode()).hexdigest()
    assert ap_start(client, tenant_a, "wp-42", legacy).status_code == 201
    # Not the attempt id alone, nor another attempt's hash.
    bare = hashlib.sha256(b"wp-43").hexdigest()
    assert ap_start(client, tenant_a, "wp-43", bare).json()["error"]["code"] == "INVALID_ATTEMPT_SIGNATURE"
    assert ap_start(client, tenant_a, "wp-43", legacy).json()["error"]["code"] == "INVALID_ATTEMPT_SIGNATURE"


def test_revoked_signing_key_signs_nothing(client, tenant_a, signing_key):
    api_key_revoke(api_key=ApiKey.objects.get(kind=ApiKey.Kind.SIGNING, institution=tenant_a.institution))
    response = ap_start(client, tenant_a, "att-9", attempt_sign(secret_key=signing_key, attempt_id="att-9"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "INVALID_ATTEMPT_SIGNATURE"


def test_another_institutions_signing_key_is_refused(client, tenant_a, tenant_b):
    other = api_key_create(institution=tenant_b.institution, kind=ApiKey.Kind.SIGNING)[1]
    response = ap_start(client, tenant_a, "att-1", attempt_sign(secret_key=other, attempt_id="att-1"))
    assert response.json()["error"]["code"] == "INVALID_ATTEMPT_SIGNATURE"


def test_signing_key_opens_no_api_and_no_widget(client, tenant_a, signing_key):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {signing_key}")
    for path in ("/api/v1/sessions", "/api/v1/assessments", "/api/v1/webhooks", "/api/v1/usage"):
        response = api.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "INVALID_API_KEY"
    assert api.post("/api/v1/webhooks", {"url": "https://x.example/h"}, format="json").status_code == 401
    # As the page's key (clientId / apiKey) it is refused too.
    signed = attempt_sign(secret_key=signing_key, attempt_id="att-2")
    response = ap_start(client, tenant_a, "att-2", signed, client_id=signing_key)
    assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_API_KEY"
    assert not ProctoringSession.objects.exists()


def test_admin_warns_on_the_secret_key_and_explains_the_signing_key(client, tenant_a):
    client.force_login(tenant_a.admin)
    form = client.get(reverse("admin:tenants_apikey_add")).content.decode()
    assert "Attempt signing" in form and "never paste it into a web page" in form
    shown = {}
    for kind in ("secret", "signing"):
        response = client.post(
            reverse("admin:tenants_apikey_add"),
            {
                "institution": tenant_a.institution.pk,
                "kind": kind,
                "name": kind,
                "expires_at_0": "",
                "expires_at_1": "",
            },
        )
        shown[kind] = response.content.decode()
        assert response.context["value"].startswith({"secret": "sk_", "signing": "as_"}[kind])
    assert "never paste it into a web page" in shown["secret"]
    assert "opens nothing else" in shown["signing"]
