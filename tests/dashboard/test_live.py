"""The live dashboard's WebSocket: session-cookie auth, same-site origin, the user's institution only."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from proctorme.asgi import application
from sessions.services import flag_record
from tests.dashboard.dashboard_factories import make_session

pytestmark = pytest.mark.django_db(transaction=True)


def _cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def _connect(cookie: str | None, origin: str = "http://testserver"):
    headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, "/ws/dashboard/", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_a_new_flag_reaches_the_institutions_reviewers_only(tenant_a, tenant_b):
    session = await sync_to_async(make_session)(tenant_a.institution, status="active", score=None)
    ours, connected, _ = await _connect(await sync_to_async(_cookie_for)(tenant_a.reviewer))
    assert connected
    theirs, connected, _ = await _connect(await sync_to_async(_cookie_for)(tenant_b.reviewer))
    assert connected

    await sync_to_async(flag_record)(
        session=session, type="MULTIPLE_FACE", episode_key="k1", started_at=session.started_at
    )
    html = await ours.receive_from(timeout=5)
    assert f'hx-swap-oob="afterbegin:#flags-{session.public_id}"' in html
    assert "MULTIPLE_FACE" in html and "Ada Lovelace" in html
    assert await theirs.receive_nothing(timeout=0.5)
    await ours.disconnect()
    await theirs.disconnect()


async def test_anonymous_socket_is_closed(db):
    communicator, connected, _ = await _connect(None)
    assert connected  # accepted, then closed with our code so the page can tell
    message = await communicator.receive_output(timeout=2)
    assert message == {"type": "websocket.close", "code": 4401}


async def test_another_sites_page_cannot_open_it(tenant_a):
    cookie = await sync_to_async(_cookie_for)(tenant_a.reviewer)
    communicator, connected, _ = await _connect(cookie, origin="https://evil.example")
    assert not connected
