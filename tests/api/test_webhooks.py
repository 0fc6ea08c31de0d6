"""Webhook endpoints over the API: create (secret once), URL checks, update, delete, ping,
delivery log, redeliver."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ObjectDoesNotExist

from sessions.webhooks import webhook_signature_verify
from tenants.models import WebhookDelivery, WebhookEndpoint
from tests.api.api_factories import error_of


@pytest.fixture
def loopback_allowed(settings):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = True


def _create(api, url, **extra):
    return api.post("/api/v1/webhooks", {"url": url, **extra}, format="json")


def test_create_shows_the_secret_once(api_a, tenant_a):
    response = _create(api_a, "https://93.184.216.34/hooks", events=["flag.created"], description="LMS")
    assert response.status_code == 201
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["secretPrefix"] == body["secret"][:12]
    assert body["events"] == ["flag.created"] and body["isActive"] is True
    endpoint = WebhookEndpoint.objects.get(public_id=body["id"])
    assert endpoint.institution == tenant_a.institution and endpoint.secret == body["secret"]
    assert "secret" not in api_a.get(f"/api/v1/webhooks/{body['id']}").json()
    assert "secret" not in api_a.get("/api/v1/webhooks").json()["results"][0]


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/x", "http://localhost/x", "http://10.0.0.8/x"])
def test_private_and_loopback_urls_are_refused(api_a, url):
    response = _create(api_a, url)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "WEBHOOK_URL_NOT_ALLOWED"
    assert error["details"]["url"] == url
    assert not WebhookEndpoint.objects.exists()


def test_loopback_is_allowed_when_the_setting_says_so(api_a, loopback_allowed):
    assert _create(api_a, "http://127.0.0.1:9000/x").status_code == 201


def test_invalid_fields_are_named(api_a):
    response = _create(api_a, "not a url", events=["flag.created", "nope"])
    assert set(error_of(response)["details"]["fields"]) == {"url", "events"}


def test_update_checks_the_new_url_and_re_enabling_resets_the_failure_count(api_a, tenant_a):
    endpoint_id = _create(api_a, "https://93.184.216.34/a").json()["id"]
    refused = api_a.patch(f"/api/v1/webhooks/{endpoint_id}", {"url": "http://192.168.0.2/"}, format="json")
    assert error_of(refused)["code"] == "WEBHOOK_URL_NOT_ALLOWED"
    WebhookEndpoint.objects.filter(public_id=endpoint_id).update(
        is_active=False, consecutive_failures=5, disabled_reason="5 deliveries in a row failed"
    )
    response = api_a.patch(
        f"/api/v1/webhooks/{endpoint_id}", {"isActive": True, "events": [], "description": "x"}, format="json"
    )
    body = response.json()
    assert body["isActive"] is True and body["consecutiveFailures"] == 0 and body["disabledReason"] == ""
    assert body["url"] == "https://93.184.216.34/a"


def test_delete(api_a):
    endpoint_id = _create(api_a, "https://93.184.216.34/a").json()["id"]
    assert api_a.delete(f"/api/v1/webhooks/{endpoint_id}").status_code == 204
    assert api_a.get(f"/api/v1/webhooks/{endpoint_id}").status_code == 404


def test_ping_is_signed_and_logged_and_redeliver_keeps_the_delivery_id(
    api_a, loopback_allowed, receiver, run_on_commit
):
    created = _create(api_a, receiver.url()).json()
    with run_on_commit():
        ping = api_a.post(f"/api/v1/webhooks/{created['id']}/ping")
    assert ping.status_code == 202
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.headers["Proctorme-Event"] == "ping"
    webhook_signature_verify(
        body=request.body, header=request.headers["Proctorme-Signature"], secret=created["secret"]
    )
    assert json.loads(request.body)["endpointId"] == created["id"]

    deliveries = api_a.get(f"/api/v1/webhooks/{created['id']}/deliveries").json()["results"]
    assert len(deliveries) == 1
    delivery = deliveries[0]
    assert delivery["id"] == request.headers["Proctorme-Delivery"]
    assert delivery["status"] == "succeeded" and delivery["attemptCount"] == 1
    assert delivery["attempts"][0]["statusCode"] == 200
    assert delivery["attempts"][0]["responseMs"] >= 0

    receiver.statuses = [500]
    with run_on_commit():
        again = api_a.post(f"/api/v1/webhooks/{created['id']}/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202
    assert receiver.requests[1].headers["Proctorme-Delivery"] == delivery["id"]
    detail = api_a.get(f"/api/v1/webhooks/{created['id']}/deliveries/{delivery['id']}").json()
    assert detail["status"] == "failed"  # a manual send is tried once
    assert [a["statusCode"] for a in detail["attempts"]] == [200, 500]
    assert WebhookEndpoint.objects.get(public_id=created["id"]).consecutive_failures == 0


def test_redelivering_another_endpoints_delivery_is_not_found(api_a, tenant_a):
    one = _create(api_a, "https://93.184.216.34/a").json()["id"]
    two = _create(api_a, "https://93.184.216.34/b").json()["id"]
    endpoint = WebhookEndpoint.objects.get(public_id=two)
    delivery = WebhookDelivery.objects.create(
        institution=tenant_a.institution, endpoint=endpoint, event="ping"
    )
    response = api_a.post(f"/api/v1/webhooks/{one}/deliveries/{delivery.public_id}/redeliver")
    assert response.status_code == 404
    with pytest.raises(ObjectDoesNotExist):
        delivery.attempts.get()
