"""Finding 4 (dashboard): a reviewer removed from the institution stops receiving live pushes."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from sessions.services import flag_record
from tenants.models import Membership
from tests.dashboard.dashboard_factories import make_session
from tests.dashboard.test_live import _connect, _cookie_for

pytestmark = pytest.mark.django_db(transaction=True)


async def _closed(communicator) -> int:
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def test_finding4_a_removed_reviewers_open_dashboard_is_closed(tenant_a):
    session = await sync_to_async(make_session)(tenant_a.institution, status="active", score=None)
    socket, connected, _ = await _connect(await sync_to_async(_cookie_for)(tenant_a.reviewer))
    assert connected  # in its groups already: the consumer joins them before it accepts
    witness, connected, _ = await _connect(await sync_to_async(_cookie_for)(tenant_a.admin))
    assert connected
    await sync_to_async(Membership.objects.filter(user=tenant_a.reviewer).delete)()
    assert await _closed(socket) == 4403
    await sync_to_async(flag_record)(
        session=session, type="MULTIPLE_FACE", episode_key="k1", started_at=session.started_at
    )
    # The admin's socket got the push, so it was in every member's channel; one more second
    # (many times a consumer's turnaround on a loaded machine) for the removed one to show it.
    assert f"#flags-{session.public_id}" in await witness.receive_from(timeout=5)
    assert await socket.receive_nothing(timeout=1)


async def test_finding4_a_deactivated_users_open_dashboard_is_closed(tenant_a):
    socket, connected, _ = await _connect(await sync_to_async(_cookie_for)(tenant_a.reviewer))
    assert connected  # in its groups already: the consumer joins them before it accepts

    def deactivate():
        tenant_a.reviewer.is_active = False
        tenant_a.reviewer.save()

    await sync_to_async(deactivate)()
    assert await _closed(socket) == 4403


async def test_finding4_pushes_recheck_access_even_without_the_revocation_message(tenant_a, monkeypatch):
    from sessions.dashboard import consumers

    monkeypatch.setattr(consumers, "ACCESS_RECHECK_SECONDS", 0.0)
    session = await sync_to_async(make_session)(tenant_a.institution, status="active", score=None)
    socket, connected, _ = await _connect(await sync_to_async(_cookie_for)(tenant_a.reviewer))
    assert connected
    # Removed without signals (as a raw SQL clean-up would): the next push finds out.
    await sync_to_async(Membership.objects.filter(user=tenant_a.reviewer)._raw_delete)("default")
    await sync_to_async(flag_record)(
        session=session, type="MULTIPLE_FACE", episode_key="k1", started_at=session.started_at
    )
    assert await _closed(socket) == 4403
