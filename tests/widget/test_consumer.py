"""The widget WebSocket, through Channels' WebsocketCommunicator."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from proctorme.asgi import application
from proctorme.times import iso
from sessions import consumers
from sessions.config import parse_eye
from sessions.models import Event, Flag, ProctoringSession
from sessions.services import session_end, session_start

ORIGIN = "https://exams.alpha.edu"
pytestmark = pytest.mark.django_db(transaction=True)


def _start(tenant, origin=ORIGIN, candidate="cand-1"):
    request = parse_eye(
        {
            "apiKey": tenant.publishable_key,
            "assessmentId": "math",
            "assessmentTitle": "Math",
            "candidateId": candidate,
            "candidateEmail": "c@x.edu",
            "candidateFirstName": "C",
            "candidateLastName": "D",
            "institutionName": "X",
            "examDuration": 3600,
        }
    )
    return session_start(request=request, origin=origin)


async def _ended_at(session):
    return (await sync_to_async(ProctoringSession.objects.get)(pk=session.pk)).ended_at


async def _open(origin=ORIGIN, path="/ws/widget/"):
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", origin.encode())])
    # The handshake's own wait: channels' default of 1 s timed out on a loaded 2-core machine.
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def _connect(token, origin=ORIGIN):
    """Opens the socket as the widget does: no token in the URL, the token in the first message."""
    communicator = await _open(origin)
    await communicator.send_json_to({"type": "auth", "token": token})
    return communicator


async def _closed_with(communicator) -> int:
    output = await communicator.receive_output(timeout=3)
    assert output["type"] == "websocket.close"
    return output.get("code")


async def _signal(communicator, seq, event="COPY_PASTE", payload=None):
    await communicator.send_json_to(
        {"type": "signal", "seq": seq, "event": event, "payload": payload or {"action": "copy"}}
    )


async def _receive_until(communicator, predicate, limit=10):
    for _ in range(limit):
        message = await communicator.receive_json_from(timeout=3)
        if predicate(message):
            return message
    raise AssertionError("expected message never came")


async def test_hello_then_ack_and_the_event_is_stored(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(started.token)
    hello = await ws.receive_json_from()
    assert hello["type"] == "hello" and hello["lastClientSeq"] == 0
    await _signal(ws, 1)
    ack = await _receive_until(ws, lambda m: m["type"] == "ack")
    assert ack == {"type": "ack", "seq": 1}
    flag = await _receive_until(ws, lambda m: m["type"] == "flag")
    assert flag["flag"]["type"] == "COPY_PASTE" and flag["flag"]["examId"] == "math"
    assert await sync_to_async(Event.objects.filter(type="COPY_PASTE", client_seq=1).count)() == 1
    await ws.disconnect()


async def test_the_token_in_the_first_message_authenticates_and_a_signal_before_it_does_not(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    ws = await _open()
    await _signal(ws, 1)  # a signal is not an auth message: refused as a bad token, nothing stored
    assert await _closed_with(ws) == 4401
    assert await sync_to_async(Event.objects.filter(source="browser").count)() == 0
    ws = await _connect(started.token)
    assert (await ws.receive_json_from(timeout=3))["type"] == "hello"
    await ws.disconnect()


async def test_a_socket_that_never_authenticates_is_closed_with_4408(tenant_a, monkeypatch):
    monkeypatch.setattr(consumers, "AUTH_TIMEOUT_SECONDS", 0.3)
    ws = await _open()
    output = await ws.receive_output(timeout=5)  # nothing sent: the server's timer closes it
    assert output == {"type": "websocket.close", "code": 4408}


async def test_a_token_in_the_query_string_is_refused_with_4400(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    ws = await _open(path=f"/ws/widget/?token={started.token}")
    error = await ws.receive_json_from(timeout=3)
    assert error["type"] == "error" and error["code"] == "INVALID_TOKEN"
    assert await _closed_with(ws) == 4400
    # ... even with the right first message: the URL is refused before anything is read.
    ws = await _open(path=f"/ws/widget/?token={started.token}")
    await ws.send_json_to({"type": "auth", "token": started.token})
    assert (await ws.receive_json_from(timeout=3))["code"] == "INVALID_TOKEN"
    assert await _closed_with(ws) == 4400


async def test_bad_token_is_refused_with_4401(tenant_a):
    await sync_to_async(_start)(tenant_a)
    ws = await _connect("not-a-token")
    assert await _closed_with(ws) == 4401


async def test_wrong_origin_is_refused_with_4403(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(started.token, origin="https://evil.example")
    assert await _closed_with(ws) == 4403


async def test_another_institutions_session_token_is_refused(tenant_a, tenant_b):
    started_b = await sync_to_async(_start)(tenant_b, origin="https://exams.beta.edu")
    ws = await _connect(started_b.token, origin=ORIGIN)
    assert await _closed_with(ws) == 4403


async def test_token_for_one_session_cannot_be_altered_to_another(tenant_a):
    first = await sync_to_async(_start)(tenant_a)
    second = await sync_to_async(_start)(tenant_a, candidate="cand-2")
    # Second session's claims with first session's signature.
    forged = second.token.rsplit(":", 1)[0] + ":" + first.token.rsplit(":", 1)[1]
    assert forged not in (first.token, second.token)
    ws = await _connect(forged)
    assert await _closed_with(ws) == 4401


async def test_ended_session_is_refused_with_4409(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    await sync_to_async(session_end)(session=started.session, reason="ended")
    ws = await _connect(started.token)
    assert await ws.receive_json_from() == {
        "type": "ended",
        "reason": "ended",
        "endedAt": iso(await _ended_at(started.session)),
    }
    assert await _closed_with(ws) == 4409


async def test_a_page_reconnecting_after_a_termination_is_told_it_was_terminated_and_why(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    await sync_to_async(session_end)(
        session=started.session, reason="terminated", message="Identity could not be confirmed"
    )
    ws = await _connect(started.token)
    assert await ws.receive_json_from() == {
        "type": "ended",
        "reason": "terminated",
        "endedAt": iso(await _ended_at(started.session)),
        "message": "Identity could not be confirmed",
    }
    assert await _closed_with(ws) == 4409


async def test_a_signal_that_crosses_a_termination_is_answered_with_the_termination(tenant_a, monkeypatch):
    """The end's own push has not reached this socket yet (it is on its way) when the page's
    signal arrives: the answer says terminated and why, not a bare "ended"."""
    from sessions import analysis_pipeline, finalise, services

    started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(started.token)
    await ws.receive_json_from()
    session = await sync_to_async(ProctoringSession.objects.get)(pk=started.session.pk)
    # The end's pushes, and the completion's, still on their way:
    for module in (services, finalise, analysis_pipeline):
        monkeypatch.setattr(module, "broadcast", lambda group, body: None)
    await sync_to_async(session_end)(session=session, reason="terminated", message="Phone seen on the desk")
    await _signal(ws, 1)
    assert await ws.receive_json_from() == {
        "type": "ended",
        "reason": "terminated",
        "endedAt": iso(await _ended_at(session)),
        "message": "Phone seen on the desk",
    }
    assert await _closed_with(ws) == 4409


async def test_malformed_messages_get_error_frames_and_the_connection_stays(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(started.token)
    await ws.receive_json_from()
    await ws.send_to(text_data="{not json")
    assert (await ws.receive_json_from())["code"] == "INVALID_MESSAGE"
    await ws.send_json_to(["a", "list"])
    assert (await ws.receive_json_from())["code"] == "INVALID_MESSAGE"
    await ws.send_json_to({"type": "signal", "seq": "one", "event": "COPY_PASTE"})
    assert (await ws.receive_json_from())["code"] == "BAD_SEQUENCE"
    await ws.send_json_to({"type": "signal", "seq": 1, "event": "DROP_TABLES"})
    error = await ws.receive_json_from()
    assert error["code"] == "UNKNOWN_EVENT" and error["seq"] == 1
    await ws.send_json_to({"type": "teleport"})
    assert (await ws.receive_json_from())["code"] == "INVALID_MESSAGE"
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}
    assert await sync_to_async(Event.objects.filter(source="browser").count)() == 0
    await ws.disconnect()


async def test_duplicate_sequence_numbers_are_acknowledged_but_stored_once(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(started.token)
    await ws.receive_json_from()
    for _ in range(3):
        await _signal(ws, 5)
    acks = []
    while len(acks) < 3:
        message = await ws.receive_json_from()
        if message["type"] == "ack":
            acks.append(message)
    assert acks[0] == {"type": "ack", "seq": 5}
    assert acks[1:] == [{"type": "ack", "seq": 5, "duplicate": True}] * 2
    assert await sync_to_async(Event.objects.filter(client_seq=5).count)() == 1
    assert await sync_to_async(Flag.objects.filter(type="COPY_PASTE").count)() == 1
    await ws.disconnect()


async def test_reconnect_and_resume_loses_nothing_and_doubles_nothing(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(started.token)
    await ws.receive_json_from()
    await _signal(ws, 1, "TAB_FOCUS_CHANGE", {"focused": False})
    await _receive_until(ws, lambda m: m.get("type") == "ack")
    # Signal 2 is sent but the connection drops before its ack is read.
    await _signal(ws, 2, "TAB_FOCUS_CHANGE", {"focused": True})
    await ws.disconnect()
    ws = await _connect(started.token)
    hello = await ws.receive_json_from()
    assert hello["lastClientSeq"] in (1, 2)
    # The widget resends everything unacknowledged (2), then carries on (3).
    await _signal(ws, 2, "TAB_FOCUS_CHANGE", {"focused": True})
    await _signal(ws, 3, "COPY_PASTE", {"action": "paste"})
    acks = set()
    while acks != {2, 3}:
        message = await ws.receive_json_from()
        if message["type"] == "ack":
            acks.add(message["seq"])
    seqs = await sync_to_async(
        lambda: list(
            Event.objects.filter(source="browser").order_by("client_seq").values_list("client_seq", flat=True)
        )
    )()
    assert seqs == [1, 2, 3]
    flag = await sync_to_async(Flag.objects.get)(type="TAB_NOT_FOCUS")
    assert flag.ended_at is not None and flag.duration_seconds >= 0
    await ws.disconnect()


async def test_a_flood_is_rate_limited(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(started.token)
    await ws.receive_json_from()
    for _ in range(120):
        await ws.send_json_to({"type": "ping"})
    codes = []
    for _ in range(120):
        message = await ws.receive_json_from()
        codes.append(message.get("code") or message["type"])
    assert codes.count("pong") <= 70
    assert "RATE_LIMITED" in codes
    await ws.disconnect()


async def test_end_reaches_the_widget_and_closes_the_socket(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(started.token)
    await ws.receive_json_from()
    session = await sync_to_async(ProctoringSession.objects.get)(pk=started.session.pk)
    await sync_to_async(session_end)(session=session, reason="ended")
    ended = await _receive_until(ws, lambda m: m["type"] == "ended")
    assert ended["reason"] == "ended"
    assert await _closed_with(ws) == 4409


async def test_a_fifth_kind_of_violation_raises_suspicious_activity_once(tenant_a):
    started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(started.token)
    await ws.receive_json_from()
    signals = [
        ("TAB_FOCUS_CHANGE", {"focused": False}),
        ("FULLSCREEN_CHANGE", {"fullscreen": False}),
        ("COPY_PASTE", {"action": "paste"}),
        ("MULTIPLE_SCREENS", {"screens": 2}),
        ("COPY_PASTE", {"action": "copy"}),  # a repeat: still four kinds
    ]
    for seq, (event, payload) in enumerate(signals, start=1):
        await _signal(ws, seq, event, payload)
        await _receive_until(ws, lambda m, seq=seq: m.get("type") == "ack" and m["seq"] == seq)
    assert not await sync_to_async(Flag.objects.filter(type="SUSPICIOUS_ACTIVITY").exists)()
    await _signal(ws, 6, "CONNECTION_LOST", {"offlineFrom": "2026-01-01T00:00:00Z", "durationMs": 1000})
    flag = await _receive_until(
        ws, lambda m: m.get("type") == "flag" and m["flag"]["type"] == "SUSPICIOUS_ACTIVITY"
    )
    assert "5 different kinds" in flag["flag"]["description"]
    await _signal(ws, 7, "COPY_PASTE", {"action": "cut"})
    await _receive_until(ws, lambda m: m.get("type") == "ack" and m["seq"] == 7)
    assert await sync_to_async(Flag.objects.filter(type="SUSPICIOUS_ACTIVITY").count)() == 1
    await ws.disconnect()


async def test_a_refused_socket_leaves_no_consumer_receiving_once_the_client_goes(
    tenant_a, _sockets_end_with_the_test
):
    from tests.conftest import _layer_receivers

    ws = await _connect("not-a-token")
    assert await _closed_with(ws) == 4401
    # Closed by the server, the consumer still waits on the channel layer until its client goes.
    assert len(_layer_receivers()) == 1
    await ws.disconnect()
    assert _layer_receivers() == []
