"""Finding 4 (widget): revoking a publishable key ends its sessions' tokens at once."""

import json

import pytest
from asgiref.sync import sync_to_async

from sessions.models import Event
from tenants.models import ApiKey
from tenants.services import api_key_revoke
from tests.widget.test_consumer import _closed_with, _connect, _signal, _start
from tests.widget.test_session_start import ORIGIN

pytestmark = pytest.mark.django_db(transaction=True)


def _revoke(tenant):
    for key in ApiKey.objects.filter(institution=tenant.institution, kind=ApiKey.Kind.PUBLISHABLE):
        api_key_revoke(api_key=key)


def test_finding4_a_revoked_keys_token_cannot_upload_or_end(client, tenant_a):
    started = _start(tenant_a)
    _revoke(tenant_a)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {started.token}", "HTTP_ORIGIN": ORIGIN}
    sid = started.session.public_id
    upload = client.post(f"/widget/v1/sessions/{sid}/media", {"meta": json.dumps([])}, **headers)
    assert upload.status_code == 401 and upload.json()["error"]["code"] == "INVALID_TOKEN"
    end = client.post(f"/widget/v1/sessions/{sid}/end", "{}", content_type="application/json", **headers)
    assert end.status_code == 401
    started.session.refresh_from_db()
    assert started.session.status == "active"


async def test_finding4_a_revoked_keys_token_cannot_open_a_socket(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    await sync_to_async(_revoke)(tenant_a)
    ws = await _connect(started.token)
    assert await _closed_with(ws) == 4401


async def test_finding4_an_open_socket_of_a_revoked_key_is_closed(tenant_a, monkeypatch):
    from sessions import consumers

    monkeypatch.setattr(consumers, "KEY_RECHECK_SECONDS", 0.0)
    started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(started.token)
    assert (await ws.receive_json_from())["type"] == "hello"
    await sync_to_async(_revoke)(tenant_a)
    await _signal(ws, 1)
    error = await ws.receive_json_from(timeout=3)
    assert error["type"] == "error" and error["code"] == "INVALID_TOKEN"
    assert await _closed_with(ws) == 4401
    assert not await sync_to_async(Event.objects.filter(source="browser").exists)()
