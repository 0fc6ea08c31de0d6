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
    connected, code = await communicator.connect(timeout=10)
    return communicator, connected, code


async def test_a_new_flag_reaches_the_institutions_reviewers_only(tenant_a, tenant_b):
    session = await sync_to_async(make_session)(tenant_a.institution, status="active", score=None)
    foreign = await sync_to_async(make_session)(
        tenant_b.institution, status="active", score=None, first="Bea", last="Other"
    )
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
    # Then a flag of B's own: a socket's messages arrive in the order they were sent, so had A's
    # flag reached B's socket it would come first.
    await sync_to_async(flag_record)(
        session=foreign, type="FACE_ABSENCE", episode_key="k2", started_at=foreign.started_at
    )
    html = await theirs.receive_from(timeout=5)
    assert f"#flags-{foreign.public_id}" in html and "Bea Other" in html
    assert str(session.public_id) not in html and "Ada Lovelace" not in html
    assert await theirs.receive_nothing(timeout=0)
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


async def test_a_batch_of_signals_reaches_each_institutions_dashboards_as_one_message(
    tenant_a, tenant_b, monkeypatch
):
    """The coalesced write path sends one channel-layer message per institution for its batch;
    the page still gets one push per signal, in order, and nothing of the other institution."""
    from sessions import services
    from sessions.services import BrowserSignal, signals_record
    from tests.widget.test_consumer import _start

    a1 = (await sync_to_async(_start)(tenant_a, candidate="a1")).session
    a2 = (await sync_to_async(_start)(tenant_a, candidate="a2")).session
    b1 = (await sync_to_async(_start)(tenant_b, origin="https://exams.beta.edu", candidate="b1")).session
    ours, connected, _ = await _connect(await sync_to_async(_cookie_for)(tenant_a.reviewer))
    assert connected
    theirs, connected, _ = await _connect(await sync_to_async(_cookie_for)(tenant_b.reviewer))
    assert connected
    sent = []
    real = services.broadcast

    def spy(group, body):
        if group.startswith("institution."):
            sent.append((group, body["type"], len(body.get("messages", [body.get("message")]))))
        real(group, body)

    monkeypatch.setattr(services, "broadcast", spy)
    results = await sync_to_async(signals_record)(
        [
            BrowserSignal(a1.pk, 1, "COPY_PASTE", payload={"action": "copy"}),
            BrowserSignal(b1.pk, 1, "COPY_PASTE", payload={"action": "paste"}),
            BrowserSignal(a2.pk, 1, "TAB_FOCUS_CHANGE", payload={"focused": True}),
        ]
    )
    assert [r.stored for r in results] == [True, True, True]
    assert sorted(sent) == sorted(
        [
            (f"institution.{tenant_a.institution.public_id}", "institution.messages", 2),
            (f"institution.{tenant_b.institution.public_id}", "institution.message", 1),
        ]
    )
    # A marker after the batch: whatever the batch pushed arrives before it.
    for session in (a2, b1):
        await sync_to_async(flag_record)(
            session=session, type="MULTIPLE_FACE", episode_key="marker", started_at=session.started_at
        )
    pushed = [await ours.receive_from(timeout=5) for _ in range(3)]
    assert f"afterbegin:#flags-{a1.public_id}" in pushed[0] and "COPY_PASTE" in pushed[0]
    assert f'id="seen-{a2.public_id}"' in pushed[1]
    assert f"afterbegin:#flags-{a2.public_id}" in pushed[2] and "MULTIPLE_FACE" in pushed[2]
    pushed = [await theirs.receive_from(timeout=5) for _ in range(2)]
    assert f"afterbegin:#flags-{b1.public_id}" in pushed[0] and "COPY_PASTE" in pushed[0]
    assert f"afterbegin:#flags-{b1.public_id}" in pushed[1] and "MULTIPLE_FACE" in pushed[1]
    assert str(a1.public_id) not in "".join(pushed) and str(a2.public_id) not in "".join(pushed)
    await ours.disconnect()
    await theirs.disconnect()
