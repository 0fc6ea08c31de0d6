"""Fixtures of the integrator API tests: an authenticated client per persona."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api.api_factories import client_for


@pytest.fixture
def api_a(tenant_a) -> APIClient:
    return client_for(tenant_a.secret_key)


@pytest.fixture
def api_b(tenant_b) -> APIClient:
    return client_for(tenant_b.secret_key)


@pytest.fixture(autouse=True)
def _api_settings(settings, tmp_path):
    from django.core.cache import cache

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PROCTORME_API_RATE_LIMIT = 10_000
    settings.PROCTORME_ALLOW_PRIVATE_URLS = False
    cache.clear()


@pytest.fixture
def receiver():
    """A webhook receiver on 127.0.0.1 (a real HTTP server thread)."""
    from tests.api.webhook_receiver import start_receiver

    started = start_receiver()
    yield started
    started.server.shutdown()
    started.server.server_close()


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Backoff pauses between attempts, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("sessions.webhooks._sleep", recorded.append)
    return recorded


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what a block queues with transaction.on_commit (signals, enqueued tasks) at its end."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def endpoint(settings, tenant_a, receiver):
    """A webhook endpoint of tenant A pointing at the loopback receiver, with its plain secret."""
    from tenants.services import webhook_endpoint_create

    settings.PROCTORME_ALLOW_PRIVATE_URLS = True  # the receiver is on loopback
    created, secret = webhook_endpoint_create(institution=tenant_a.institution, url=receiver.url())
    created.plain_secret = secret
    return created
