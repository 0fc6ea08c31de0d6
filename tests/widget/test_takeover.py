"""Finding 2: a running Eye session cannot be taken over from public information.

The publishable key, assessmentId and candidateId are in the exam page and an
``Origin`` header is trivially forged outside a browser, so none of them may
hand out a token for a running session.
"""

import json

import pytest

from sessions.config import eye_attempt_id
from sessions.models import ProctoringSession
from tenants.services import attempt_sign
from tests.widget.test_session_start import eye_config, start

SECRET = "s3cret-of-the-candidates-browser"


def _start_body(tenant, secret=SECRET, **overrides):
    body = {"dialect": "eye", "config": eye_config(tenant, **overrides)}
    if secret is not None:
        body["resumeSecret"] = secret
    return body


def test_finding2_resume_without_the_browsers_secret_is_refused(client, tenant_a):
    first = start(client, _start_body(tenant_a))
    assert first.status_code == 201
    # An attacker with the page's public values and a forged Origin, but not the browser's secret.
    for attempt in (_start_body(tenant_a, secret=None), _start_body(tenant_a, secret="x" * 32)):
        stolen = start(client, attempt)
        assert stolen.status_code == 409, stolen.content
        assert stolen.json()["error"]["code"] == "ATTEMPT_IN_USE"
        assert "token" not in stolen.json()
    # The candidate's own browser still resumes.
    again = start(client, _start_body(tenant_a))
    assert again.status_code == 200 and again.json()["sessionId"] == first.json()["sessionId"]
    assert ProctoringSession.objects.get().status == ProctoringSession.Status.ACTIVE


def test_finding2_a_session_created_without_a_secret_resumes_only_when_signed(client, tenant_a):
    start(client, _start_body(tenant_a, secret=None))
    assert start(client, _start_body(tenant_a, secret=None)).status_code == 409
    signature = attempt_sign(secret_key=tenant_a.secret_key, attempt_id=eye_attempt_id("math-101", "cand-7"))
    signed = start(client, _start_body(tenant_a, secret=None, attemptSignature=signature))
    assert signed.status_code == 200 and signed.json()["resumed"] is True


def test_finding2_a_wrong_eye_signature_is_refused(client, tenant_a):
    wrong = attempt_sign(secret_key=tenant_a.secret_key, attempt_id=eye_attempt_id("math-101", "someone"))
    response = start(client, _start_body(tenant_a, attemptSignature=wrong))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "INVALID_ATTEMPT_SIGNATURE"
    assert not ProctoringSession.objects.exists()


def test_finding2_an_institution_can_require_signed_eye_attempts(client, tenant_a):
    tenant_a.institution.require_signed_attempts = True
    tenant_a.institution.save()
    unsigned = start(client, _start_body(tenant_a))
    assert unsigned.status_code == 403
    assert unsigned.json()["error"]["code"] == "INVALID_ATTEMPT_SIGNATURE"
    assert not ProctoringSession.objects.exists()
    signature = attempt_sign(secret_key=tenant_a.secret_key, attempt_id=eye_attempt_id("math-101", "cand-7"))
    signed = start(client, _start_body(tenant_a, attemptSignature=signature))
    assert signed.status_code == 201


@pytest.mark.parametrize(
    ("first", "second"),
    [(("a:b", "c"), ("a", "b:c")), (("a%3Ab", "c"), ("a:b", "c")), (("a", "b:c:d"), ("a:b", "c:d"))],
)
def test_finding2_attempt_ids_of_different_pairs_never_collide(client, tenant_a, first, second):
    one = start(client, _start_body(tenant_a, assessmentId=first[0], candidateId=first[1]))
    other = start(client, _start_body(tenant_a, assessmentId=second[0], candidateId=second[1]))
    assert one.status_code == 201 and other.status_code == 201, other.content
    assert one.json()["sessionId"] != other.json()["sessionId"]
    assert ProctoringSession.objects.count() == 2


def test_finding2_malformed_resume_secret_is_a_coded_error(client, tenant_a):
    response = start(client, {**_start_body(tenant_a), "resumeSecret": {"no": 1}})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {
        "resumeSecret": "A string of 16 to 200 characters."
    }


def test_finding2_the_stored_secret_is_a_digest(client, tenant_a):
    start(client, _start_body(tenant_a))
    session = ProctoringSession.objects.get()
    assert session.resume_digest and SECRET not in json.dumps(
        {"d": session.resume_digest, "c": session.config}
    )


def test_finding2_migration_escapes_existing_eye_attempt_ids(client, tenant_a):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("sessions.migrations.0004_resume_digest_escaped_attempt_ids")
    assert start(client, _start_body(tenant_a, assessmentId="a:b", candidateId="c%d")).status_code == 201
    # The row as the old code wrote it: the two ids joined unescaped.
    ProctoringSession.objects.update(attempt_id="eye:a:b:c%d")
    migration.escape_eye_attempt_ids(apps, None)
    assert ProctoringSession.objects.get().attempt_id == "eye:a%3Ab:c%25d" == eye_attempt_id("a:b", "c%d")
