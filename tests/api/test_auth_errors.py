"""Authentication with secret keys only, the one error format and its codes, rate limiting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tenants.models import ApiKey
from tenants.services import api_key_create, api_key_revoke
from tests.api.api_factories import client_for, error_of


def test_request_without_a_key_is_told_to_authenticate(db):
    response = client_for(None).get("/api/v1/sessions")
    assert response.status_code == 401
    assert error_of(response)["code"] == "AUTHENTICATION_REQUIRED"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_publishable_key_is_refused(tenant_a):
    response = client_for(tenant_a.publishable_key).get("/api/v1/sessions")
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "INVALID_API_KEY"
    assert "publishable" in error["message"].lower()


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Token sk_whatever", "Bearer sk_unknown"])
def test_malformed_or_unknown_credentials_are_refused(tenant_a, header):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/assessments")
    assert response.status_code == 401
    assert error_of(response)["code"] == "INVALID_API_KEY"


def test_revoked_and_expired_secret_keys_are_refused(tenant_a):
    revoked, revoked_plain = api_key_create(institution=tenant_a.institution, kind=ApiKey.Kind.SECRET)
    api_key_revoke(api_key=revoked)
    _, expired_plain = api_key_create(
        institution=tenant_a.institution,
        kind=ApiKey.Kind.SECRET,
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    for key in (revoked_plain, expired_plain):
        response = client_for(key).get("/api/v1/assessments")
        assert response.status_code == 401
        assert error_of(response)["code"] == "INVALID_API_KEY"


def test_validation_errors_name_every_invalid_field(api_a):
    response = api_a.post("/api/v1/assessments", {"title": "x" * 400, "durationSeconds": -5}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert set(error["details"]["fields"]) == {"externalId", "title", "durationSeconds"}
    assert all(isinstance(m, str) for m in error["details"]["fields"]["externalId"])


def test_invalid_query_parameters_are_validation_errors(api_a):
    response = api_a.get("/api/v1/sessions", {"status": "bogus", "limit": "0", "startedAfter": "yesterday"})
    assert response.status_code == 400
    assert set(error_of(response)["details"]["fields"]) == {"status", "limit", "startedAfter"}


def test_malformed_json_is_its_own_code(api_a):
    response = api_a.generic("POST", "/api/v1/assessments", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "MALFORMED_REQUEST"


def test_non_json_body_is_unsupported(api_a):
    response = api_a.generic("POST", "/api/v1/assessments", "externalId=x", content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_wrong_method_is_method_not_allowed(api_a):
    response = api_a.delete("/api/v1/sessions")
    assert response.status_code == 405
    error = error_of(response)
    assert error["code"] == "METHOD_NOT_ALLOWED"
    assert error["details"] == {"method": "DELETE"}


@pytest.mark.parametrize(
    "path", ["/api/v1/nowhere", "/api/v1/sessions/not-a-uuid", "/api/v1/sessions/123/report"]
)
def test_unknown_paths_answer_not_found_in_the_same_format(api_a, path):
    response = api_a.get(path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "NOT_FOUND"


def test_rate_limit_is_per_key_and_says_when_to_retry(settings, tenant_a, tenant_b, api_a, api_b):
    settings.PROCTORME_API_RATE_LIMIT = 3
    for _ in range(3):
        assert api_a.get("/api/v1/assessments").status_code == 200
    limited = api_a.get("/api/v1/assessments")
    assert limited.status_code == 429
    error = error_of(limited)
    assert error["code"] == "RATE_LIMITED"
    retry_after = int(limited["Retry-After"])
    assert 1 <= retry_after <= 60
    assert error["details"]["retryAfter"] == retry_after
    # Another institution's key has its own budget.
    assert api_b.get("/api/v1/assessments").status_code == 200


def test_rate_limit_window_resets(settings, tenant_a, api_a, time_machine):
    settings.PROCTORME_API_RATE_LIMIT = 1
    time_machine.move_to("2026-11-23 10:00:05Z", tick=False)
    assert api_a.get("/api/v1/assessments").status_code == 200
    assert api_a.get("/api/v1/assessments").status_code == 429
    time_machine.move_to("2026-11-23 10:01:01Z", tick=False)
    assert api_a.get("/api/v1/assessments").status_code == 200


def test_rate_limit_is_shared_through_redis(settings, redis_url, tenant_a, api_a):
    """With REDIS_URL the counter lives in Redis: every server process sees the same count."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    settings.CACHES = {"default": {"BACKEND": "proctorme.cache.ReusingRedisCache", "LOCATION": redis_url}}
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    cache.clear()
    settings.PROCTORME_API_RATE_LIMIT = 2
    assert api_a.get("/api/v1/assessments").status_code == 200
    assert api_a.get("/api/v1/assessments").status_code == 200
    response = api_a.get("/api/v1/assessments")
    assert response.status_code == 429
    assert response.has_header("Retry-After")
    cache.clear()


def test_schema_is_served_and_lists_the_integrator_api_only(db):
    response = client_for(None).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    assert "/api/v1/sessions/{session_id}/report" in schema["paths"]
    assert schema["components"]["securitySchemes"]["secretKey"]["scheme"] == "bearer"


def test_interactive_docs_use_local_assets_not_a_cdn(db, client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html


def test_unknown_query_parameters_are_refused_so_a_typo_never_widens_a_list(api_a):
    response = api_a.get("/api/v1/sessions", {"riskband": "high"})
    assert response.status_code == 400
    assert error_of(response)["details"]["fields"] == {"riskband": ["Unknown query parameter."]}


def test_schema_generates_without_warnings_and_validates(db):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)  # raises on an invalid OpenAPI 3 document
    assert not GENERATOR_STATS, "drf-spectacular emitted warnings or errors"
    operations = [op for path in schema["paths"].values() for op in path.values()]
    # 26 + 7 LMS (registrations, tool, key rotation, session control) + 5 live intervention
    # (messages, pause, resume, extend, terminate) + 3 privacy and report (candidate export and
    # erasure, the PDF report) + 5 accommodations (list, create, read, update, delete)
    assert len(operations) == 46
    for operation in operations:  # every operation documents the shared error answers
        assert {"401", "404", "429"} <= set(operation["responses"])
        assert "Retry-After" in operation["responses"]["429"]["headers"]
    pdf = schema["paths"]["/api/v1/sessions/{session_id}/report.pdf"]["get"]["responses"]
    assert pdf["200"]["content"] == {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    assert "application/json" in pdf["404"]["content"]
    archive = schema["paths"]["/api/v1/candidates/{candidate_id}/export"]["get"]["responses"]
    assert archive["200"]["content"] == {
        "application/zip": {"schema": {"type": "string", "format": "binary"}}
    }
