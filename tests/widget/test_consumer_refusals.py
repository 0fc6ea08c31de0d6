"""The widget socket's refusals that the protocol promises: frames over 16 KiB and binary frames
get an error and the socket stays; a signal after the session ended is not stored, the widget is
told and the socket closes with 4409 (ended meanwhile, or past its deadline)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from proctorme.asgi import application
from sessions.config import parse_eye
from sessions.consumers import MAX_MESSAGE_BYTES
from sessions.models import Event, ProctoringSession
from sessions.services import session_start, signal_record

ORIGIN = "https://exams.alpha.edu"
pytestmark = pytest.mark.django_db(transaction=True)


def _started(tenant):
    config = {
        "apiKey": tenant.publishable_key,
        "assessmentId": "geo",
        "assessmentTitle": "Geography",
        "candidateId": "c-5",
        "candidateEmail": "c5@alpha.edu",
        "candidateFirstName": "C",
        "candidateLastName": "Five",
        "institutionName": "Alpha",
        "examDuration": 3600,
    }
    return session_start(request=parse_eye(config), origin=ORIGIN)


async def _socket(tenant):
    started = await sync_to_async(_started)(tenant)
    ws = WebsocketCommunicator(application, "/ws/widget/", headers=[(b"origin", ORIGIN.encode())])
    connected, _ = await ws.connect(timeout=10)
    assert connected
    await ws.send_json_to({"type": "auth", "token": started.token})
    assert (await ws.receive_json_from(timeout=3))["type"] == "hello"
    return started, ws


def _signal_text(seq: int, size: int | None = None) -> str:
    """A COPY_PASTE signal, padded in its payload to exactly ``size`` characters when given."""
    message = {"type": "signal", "seq": seq, "event": "COPY_PASTE", "payload": {"action": "copy", "pad": ""}}
    text = json.dumps(message)
    if size is not None:
        message["payload"]["pad"] = "x" * (size - len(text))
        text = json.dumps(message)
        assert len(text) == size
    return text


async def _next(ws, type_: str) -> dict:
    """The next message of ``type_``; flags pushed down meanwhile are passed over."""
    for _ in range(10):
        message = await ws.receive_json_from(timeout=3)
        if message["type"] == type_:
            return message
        assert message["type"] == "flag", message
    raise AssertionError(f"no {type_} message")


async def _stored() -> int:
    return await sync_to_async(Event.objects.filter(source="browser").count)()


async def test_a_frame_over_16_kib_is_refused_and_the_socket_stays(tenant_a):
    _, ws = await _socket(tenant_a)
    await ws.send_to(text_data=_signal_text(1, MAX_MESSAGE_BYTES + 1))
    error = await _next(ws, "error")
    assert error["code"] == "INVALID_MESSAGE" and "16 KiB" in error["message"]
    assert await _stored() == 0
    await ws.send_to(text_data=_signal_text(1, MAX_MESSAGE_BYTES))  # exactly the limit is fine
    assert await _next(ws, "ack") == {"type": "ack", "seq": 1}
    assert await _stored() == 1
    await ws.disconnect()


async def test_a_binary_frame_is_refused_and_the_socket_stays(tenant_a):
    _, ws = await _socket(tenant_a)
    await ws.send_to(bytes_data=_signal_text(1).encode())
    assert (await ws.receive_json_from(timeout=3))["code"] == "INVALID_MESSAGE"
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from(timeout=3) == {"type": "pong"}
    assert await _stored() == 0
    await ws.disconnect()


async def _ended_and_closed(ws) -> None:
    """An ``ended`` message, then the close with 4409 (the end may also arrive by broadcast)."""
    seen = []
    for _ in range(10):
        output = await ws.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            assert output["code"] == 4409
            break
        seen.append(json.loads(output["text"])["type"])
    assert "ended" in seen and set(seen) <= {"ended", "flag"}, seen


async def test_a_signal_after_the_session_ended_is_not_stored_and_closes_the_socket(tenant_a):
    started, ws = await _socket(tenant_a)
    await ws.send_to(text_data=_signal_text(1))
    assert await _next(ws, "ack") == {"type": "ack", "seq": 1}
    # Ended elsewhere without the socket hearing of it (another server process, say).
    await sync_to_async(ProctoringSession.objects.filter(pk=started.session.pk).update)(
        status=ProctoringSession.Status.COMPLETED, ended_at=timezone.now()
    )
    await ws.send_to(text_data=_signal_text(2))
    await _ended_and_closed(ws)
    assert await _stored() == 1


async def test_a_signal_past_the_deadline_ends_the_session_and_is_not_stored(tenant_a):
    started, ws = await _socket(tenant_a)
    await sync_to_async(ProctoringSession.objects.filter(pk=started.session.pk).update)(
        deadline_at=timezone.now() - timedelta(seconds=1)
    )
    await ws.send_to(text_data=_signal_text(1))
    await _ended_and_closed(ws)
    session = await sync_to_async(ProctoringSession.objects.get)(pk=started.session.pk)
    assert session.status == ProctoringSession.Status.COMPLETED and session.end_reason == "time_up"
    assert await _stored() == 0


def test_after_the_end_a_stored_seq_is_still_a_duplicate_and_a_new_one_is_refused(tenant_a):
    started = _started(tenant_a)
    pk = started.session.pk
    assert signal_record(session_id=pk, seq=1, event="COPY_PASTE", payload={"action": "copy"}).stored
    ProctoringSession.objects.filter(pk=pk).update(status=ProctoringSession.Status.COMPLETED)
    again = signal_record(session_id=pk, seq=1, event="COPY_PASTE", payload={"action": "copy"})
    assert again.duplicate and not again.stored and not again.ended
    late = signal_record(session_id=pk, seq=2, event="COPY_PASTE", payload={"action": "copy"})
    assert late.ended and not late.stored and not late.duplicate
    assert Event.objects.filter(session_id=pk, source="browser").count() == 1
