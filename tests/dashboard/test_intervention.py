"""Live intervention from the live page: members of the session's institution (admin or
reviewer) message, pause, resume, extend and terminate; an outsider gets a 404 and changes
nothing; a session that is not running is refused with its code. The push to the candidate's
widget and the acknowledgement reaching the page are covered by the socket tests below."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse
from django.utils import timezone

from proctorme.asgi import application
from sessions.models import AuditLogEntry, Event
from sessions.services import signal_record
from tests.dashboard.dashboard_factories import make_session


@pytest.fixture
def running(tenant_a):
    session = make_session(
        tenant_a.institution, status="active", score=None, started_ago=timedelta(minutes=5)
    )
    session.deadline_at = timezone.now() + timedelta(minutes=25)
    session.save(update_fields=["deadline_at"])
    return session


def _post(client, session, action, data=None):
    return client.post(reverse(f"dashboard:intervene-{action}", args=[session.public_id]), data or {})


@pytest.mark.parametrize("who", ["admin", "reviewer"])
def test_members_message_pause_resume_extend_and_terminate(client, tenant_a, running, who):
    user = getattr(tenant_a, who)
    client.force_login(user)
    page = client.get(reverse("dashboard:live"), {"session": running.public_id})
    assert page.status_code == 200
    assert b'id="intervene"' in page.content and b"Send message" in page.content

    sent = _post(client, running, "message", {"text": "Please face the camera."})
    assert sent.status_code == 302 and sent["Location"].endswith(f"?session={running.public_id}#intervene")
    assert _post(client, running, "pause", {"reason": "Back in a minute"}).status_code == 302
    running.refresh_from_db()
    assert running.paused_at is not None
    page = client.get(reverse("dashboard:live"), {"session": running.public_id})
    assert b"Paused since" in page.content and b"Resume" in page.content
    assert b"Not acknowledged yet" in page.content
    assert _post(client, running, "resume").status_code == 302
    deadline = timezone.now() + timedelta(minutes=25)
    assert _post(client, running, "extend", {"minutes": "5"}).status_code == 302
    running.refresh_from_db()
    assert running.paused_at is None and running.deadline_at > deadline + timedelta(minutes=4)
    assert _post(client, running, "terminate", {"reason": "Notes on the desk"}).status_code == 302
    running.refresh_from_db()
    assert running.status != "active" and running.end_reason == "terminated"

    entries = AuditLogEntry.objects.filter(session=running).order_by("created_at", "pk")
    assert [e.action for e in entries] == ["message_sent", "paused", "resumed", "extended", "terminated"]
    assert {e.actor_id for e in entries} == {user.pk}
    end = Event.objects.get(session=running, type="END_PROCTORING")
    assert end.payload == {"reason": "terminated", "message": "Notes on the desk"}
    # The session page's audit log says what was done, in words.
    page = client.get(reverse("dashboard:session", args=[running.public_id]))
    for words in (
        "sent the candidate a message: “Please face the camera.”",
        "paused the session: “Back in a minute”",
        "gave 300 s more",
        "terminated the attempt: “Notes on the desk”",
        "Terminated by a proctor",
    ):
        assert words in page.content.decode(), words


def test_outsider_gets_404_and_changes_nothing(client, tenant_b, running):
    client.force_login(tenant_b.admin)
    page = client.get(reverse("dashboard:live"), {"session": running.public_id})
    assert b'id="intervene"' not in page.content
    for action, data in [
        ("message", {"text": "hi"}),
        ("pause", {}),
        ("resume", {}),
        ("extend", {"minutes": "5"}),
        ("terminate", {"reason": "x"}),
    ]:
        assert _post(client, running, action, data).status_code == 404
    running.refresh_from_db()
    assert running.status == "active" and running.paused_at is None
    assert not AuditLogEntry.objects.filter(session=running).exists()
    assert not Event.objects.filter(session=running, type="PROCTOR_MESSAGE").exists()


def test_anonymous_is_sent_to_sign_in(client, running):
    response = _post(client, running, "pause")
    assert response.status_code == 302 and "login" in response["Location"]
    running.refresh_from_db()
    assert running.paused_at is None


def test_refusals_carry_their_code(client, tenant_a, running):
    client.force_login(tenant_a.reviewer)
    resumed = _post(client, running, "resume")
    assert resumed.status_code == 409 and b"SESSION_NOT_PAUSED" in resumed.content
    empty = _post(client, running, "terminate", {"reason": ""})
    assert empty.status_code == 400 and b"VALIDATION_ERROR" in empty.content
    ended = make_session(tenant_a.institution, status="completed")
    refused = _post(client, ended, "message", {"text": "too late"})
    assert refused.status_code == 409 and b"SESSION_ALREADY_ENDED" in refused.content
    running.refresh_from_db()
    assert running.status == "active"


@pytest.mark.django_db(transaction=True)
async def test_the_widget_gets_the_message_and_the_page_its_acknowledgement(tenant_a, live_cookie):
    from sessions.intervention import message_send
    from sessions.tokens import session_token_make

    session = await sync_to_async(make_session)(tenant_a.institution, status="active", score=None)
    session.origin = "https://exam.example.edu"
    await sync_to_async(session.save)()
    await sync_to_async(_register)(tenant_a.institution, "exam.example.edu")
    token = await sync_to_async(session_token_make)(session=session, origin=session.origin)
    # The page first: its consumer joins the institution's group while the widget connects.
    page, connected, _ = await live_cookie(tenant_a.reviewer)
    assert connected
    widget = await _widget_socket(token, session.origin)
    hello = await widget.receive_json_from(timeout=5)
    assert hello["type"] == "hello" and hello["paused"] is False and hello["messages"] == []

    message = await sync_to_async(message_send)(
        session=session, text="Eyes on the screen, please.", actor=tenant_a.reviewer
    )
    pushed = await widget.receive_json_from(timeout=5)
    assert pushed == {"type": "message", "message": message}
    await page.receive_from(timeout=5)  # the cards reload

    # Not acknowledged yet: a reconnecting widget gets it again in its hello.
    again = await _widget_socket(token, session.origin)
    assert (await again.receive_json_from(timeout=5))["messages"] == [message]
    await again.disconnect()

    await sync_to_async(signal_record)(
        session_id=session.pk,
        seq=1,
        event="MESSAGE_ACKNOWLEDGED",
        payload={"messageId": message["messageId"]},
    )
    html = await page.receive_from(timeout=5)
    assert f'id="ack-{message["messageId"]}"' in html and "Acknowledged" in html
    await widget.disconnect()
    await page.disconnect()


async def _widget_socket(token: str, origin: str) -> WebsocketCommunicator:
    """As the widget opens it: the token in the first message, never in the URL."""
    socket = WebsocketCommunicator(application, "/ws/widget/", headers=[(b"origin", origin.encode())])
    assert (await socket.connect(timeout=10))[0]
    await socket.send_json_to({"type": "auth", "token": token})
    return socket


def _register(institution, host):
    from tenants.models import Domain

    Domain.objects.get_or_create(institution=institution, host=host)


@pytest.fixture
def live_cookie():
    from django.conf import settings
    from django.test import Client

    def cookie_for(user):
        client = Client()
        client.force_login(user)
        return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    async def connect(user):
        cookie = await sync_to_async(cookie_for)(user)
        headers = [(b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie.encode())]
        communicator = WebsocketCommunicator(application, "/ws/dashboard/", headers=headers)
        connected, code = await communicator.connect(timeout=10)
        return communicator, connected, code

    return connect
