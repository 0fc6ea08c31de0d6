"""Findings 11 and 12: bad input gets a coded error (never a 500 or a crashed consumer), nothing
is left on disk without its row, and an upload after the end is refused, not stored unread."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DataError
from django.utils import timezone

from sessions.models import Event, MediaChunk, ProctoringSession
from sessions.uploads import media_store, parse_upload
from tests.widget.test_consumer import _connect, _start
from tests.widget.test_session_start import eye_config, start
from tests.widget.test_upload_refusals import _batch, _frame, _jpeg, _refused


@pytest.fixture
def started(tenant_a):
    return _start(tenant_a)


def _files_on_disk() -> list[str]:
    found = []
    for folder, _, names in os.walk(settings.MEDIA_ROOT):
        found += [os.path.join(folder, n) for n in names]
    return found


@pytest.mark.parametrize("field", ["candidateId", "assessmentTitle", "candidateLastName", "assessmentId"])
def test_finding11_a_nul_character_in_the_config_is_a_coded_error(client, tenant_a, field):
    response = start(client, {"dialect": "eye", "config": eye_config(tenant_a, **{field: "a\x00b"})})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"]["fields"] == {field: "Must not contain a NUL character."}
    assert not ProctoringSession.objects.exists()


@pytest.mark.parametrize("seq", [2**63, 2**63 - 1, 2**53])
def test_finding11_an_upload_seq_past_the_limit_is_refused_and_nothing_is_written(client, started, seq):
    before = _files_on_disk()
    _refused(_batch(client, started, [_frame(seq)]), 400, "INVALID_MEDIA", "bad seq")
    assert _files_on_disk() == before


def test_finding11_a_failed_insert_leaves_no_file_behind(client, started, monkeypatch):
    from sessions import uploads

    before = set(_files_on_disk())
    real_rows_insert = uploads.rows_insert_new

    def rows_insert_new(model, objs, unique):
        # The batch's rows go in one INSERT; one row PostgreSQL cannot take fails all of it.
        if model is MediaChunk and any(chunk.seq == 2 for chunk in objs):
            raise DataError("value out of range")
        return real_rows_insert(model, objs, unique)

    monkeypatch.setattr(uploads, "rows_insert_new", rows_insert_new)
    items = parse_upload(
        '{"items": [{"kind": "frame", "seq": 1, "part": "a"}, {"kind": "frame", "seq": 2, "part": "b"}]}',
        {"a": _upload_file(), "b": _upload_file()},
    )
    with pytest.raises(DataError):
        media_store(session=started.session, items=items)
    assert set(_files_on_disk()) == before
    assert not MediaChunk.objects.exists()


def _upload_file():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("f", _jpeg())


@pytest.mark.parametrize(
    "captured", ["2024-13-45T00:00:00", "2024-01-01T00:00:00+99:00", "9999-12-31T23:59:59-23:59", "x" * 500]
)
def test_finding11_a_malformed_captured_at_falls_back_to_the_server_clock(client, started, captured):
    response = _batch(client, started, [_frame(1, capturedAt=captured)])
    assert response.status_code == 202, response.content
    chunk = MediaChunk.objects.get()
    assert abs(chunk.captured_at - timezone.now()) < timedelta(minutes=1)


@pytest.mark.parametrize("body", ['{"reason": ["x"]}', '{"reason": {"a": 1}}', "[" * 5000 + "]" * 5000])
def test_finding11_odd_end_bodies_still_end_the_session(client, started, body):
    response = client.post(
        f"/widget/v1/sessions/{started.session.public_id}/end",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {started.token}",
        HTTP_ORIGIN="https://exams.alpha.edu",
    )
    assert response.status_code == 200, response.content


def test_finding11_a_deeply_nested_start_body_is_a_coded_error(client, tenant_a):
    response = client.post(
        "/widget/v1/sessions",
        "[" * 30000 + "]" * 30000,
        content_type="application/json",
        HTTP_ORIGIN="https://exams.alpha.edu",
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_CONFIG"


def test_finding12_an_upload_racing_the_end_is_refused_not_left_unanalysed(client, started):
    stale = ProctoringSession.objects.get(pk=started.session.pk)  # read while still active
    ProctoringSession.objects.filter(pk=stale.pk).update(status=ProctoringSession.Status.COMPLETED)
    items = parse_upload('{"items": [{"kind": "frame", "seq": 1, "part": "a"}]}', {"a": _upload_file()})
    from proctorme.errors import SessionEnded

    with pytest.raises(SessionEnded):
        media_store(session=stale, items=items)
    assert not MediaChunk.objects.exists()


# --- the WebSocket -----------------------------------------------------------------------------


async def _still_alive(ws) -> None:
    await ws.send_json_to({"type": "ping"})
    for _ in range(5):
        if (await ws.receive_json_from(timeout=3))["type"] == "pong":
            return
    raise AssertionError("no pong: the consumer is gone")


async def _expect_error(ws, code: str) -> dict:
    message = await ws.receive_json_from(timeout=3)
    assert message["type"] == "error" and message["code"] == code, message
    return message


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[" * 8000 + "]" * 8000, "INVALID_MESSAGE"),
        (
            '{"type": "signal", "seq": 9223372036854775808, "event": "COPY_PASTE", "payload": {}}',
            "BAD_SEQUENCE",
        ),
        (
            '{"type": "signal", "seq": 1, "event": "COPY_PASTE", "payload": {"action": "a\\u0000"}}',
            "INVALID_MESSAGE",
        ),
        ('{"type": "signal", "seq": 1, "event": "COPY_PASTE", "payload": {"\\u0000": 1}}', "INVALID_MESSAGE"),
        (
            '{"type": "signal", "seq": 1, "event": "COPY_PASTE", "payload": '
            + '{"a": ' * 20
            + "1"
            + "}" * 20
            + "}",
            "INVALID_MESSAGE",
        ),
    ],
    ids=["deep-json", "seq-2^63", "nul-value", "nul-key", "deep-payload"],
)
async def test_finding11_bad_socket_messages_are_coded_errors_and_the_consumer_lives(tenant_a, frame, code):
    session_started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(session_started.token)
    assert (await ws.receive_json_from())["type"] == "hello"
    await ws.send_to(text_data=frame)
    await _expect_error(ws, code)
    await _still_alive(ws)
    assert not await sync_to_async(Event.objects.filter(source="browser").exists)()
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_finding11_a_malformed_at_is_stored_with_the_server_time(tenant_a):
    session_started = await sync_to_async(_start)(tenant_a)
    ws = await _connect(session_started.token)
    await ws.receive_json_from()
    await ws.send_json_to(
        {"type": "signal", "seq": 1, "event": "COPY_PASTE", "at": "2024-02-30T25:61:00", "payload": {}}
    )
    for _ in range(5):
        message = await ws.receive_json_from(timeout=3)
        if message["type"] == "ack":
            break
    assert message == {"type": "ack", "seq": 1}
    event = await sync_to_async(Event.objects.get)(source="browser")
    assert abs(event.started_at - timezone.now()) < timedelta(minutes=1)
    await ws.disconnect()
