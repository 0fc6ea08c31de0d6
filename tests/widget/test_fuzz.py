"""Fuzzing every widget entry point (the REST API has tests/api/test_schemathesis.py):
the start, end, upload and report endpoints and the WebSocket consumer get arbitrary JSON
— NUL characters, huge and negative integers, deep nesting, wrong types, impossible dates —
and must answer with a coded 4xx or a success, never a 500, never a dead socket, and a
refusal must leave everything stored as it was."""

from __future__ import annotations

import itertools
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proctorme.errors import error_code
from sessions.models import Assessment, Candidate, Event, Flag, MediaChunk, ProctoringSession
from tests.conftest import loop_connections_closed
from tests.widget.test_consumer import _connect, _open, _start
from tests.widget.test_session_start import ORIGIN, eye_config
from tests.widget.test_upload_refusals import _jpeg

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["\x00", "a\x00b", "", " ", "2024-13-45T25:61:00", "9999-12-31T23:59:59-23:59", "x" * 300]
)
numbers = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from([0, -1, 2**53, 2**63, 2**64])
)
scalars = st.none() | st.booleans() | numbers | text
any_json = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)


_candidates = itertools.count()


def _stored() -> tuple:
    return (
        list(
            ProctoringSession.objects.order_by("pk").values_list(
                "pk", "status", "last_client_seq", "ended_at"
            )
        ),
        Event.objects.count(),
        Flag.objects.count(),
        MediaChunk.objects.count(),
        Assessment.objects.count(),
        Candidate.objects.count(),
    )


def _coded(response) -> None:
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error_code(error["code"]) is not None, error


def _mutated_config(tenant, data) -> dict:
    config = eye_config(tenant)
    for name in data.draw(
        st.lists(st.sampled_from([*config, "features", "candidateImageUrl", "attemptSignature"]), max_size=3)
    ):
        config[name] = data.draw(any_json)
    return config


@FUZZ
@given(data=st.data())
def test_fuzz_session_start_never_500s_and_a_refusal_stores_nothing(tenant_a, data):
    client = Client()
    body = data.draw(
        st.one_of(
            st.builds(
                lambda c, s: {"dialect": "eye", "config": c, "resumeSecret": s}, st.just(None), any_json
            ),
            st.just(None),
            any_json,
            st.fixed_dictionaries(
                {"dialect": st.just("autoproctor"), "credentials": any_json, "options": any_json}
            ),
        )
    )
    if isinstance(body, dict) and body.get("dialect") == "eye" and body.get("config") is None:
        body["config"] = _mutated_config(tenant_a, data)
    before = _stored()
    response = client.post(
        "/widget/v1/sessions", data=json.dumps(body), content_type="application/json", HTTP_ORIGIN=ORIGIN
    )
    _coded(response)
    if response.status_code >= 400:
        assert _stored() == before


@FUZZ
@given(data=st.data())
def test_fuzz_upload_end_and_report_never_500_and_refusals_store_nothing(tenant_a, data):
    client = Client()
    started = _start(tenant_a, candidate=f"fuzz-{next(_candidates)}")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {started.token}", "HTTP_ORIGIN": ORIGIN}
    sid = started.session.public_id
    items = data.draw(
        st.lists(
            st.dictionaries(
                st.sampled_from(["part", "kind", "seq", "capturedAt", "durationMs", "sampleRate"]), any_json
            ),
            max_size=3,
        )
    )
    for item in items[:1]:
        item.update(part="p0", kind=data.draw(st.sampled_from(["frame", "snapshot", "audio", "x"])))
    meta = data.draw(st.one_of(st.just({"items": items}), any_json))
    before = _stored()
    upload = client.post(
        f"/widget/v1/sessions/{sid}/media",
        {
            "meta": json.dumps(meta),
            "p0": SimpleUploadedFile(
                "p0", data.draw(st.sampled_from([_jpeg(), b"", b"\x00" * 7, b"\xff\xd8\xff"]))
            ),
        },
        **headers,
    )
    _coded(upload)
    if upload.status_code >= 400:
        assert _stored() == before
    report = client.post(
        "/widget/v1/report",
        json.dumps(data.draw(any_json)),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    )
    _coded(report)
    end = client.post(
        f"/widget/v1/sessions/{sid}/end",
        json.dumps(data.draw(any_json)),
        content_type="application/json",
        **headers,
    )
    _coded(end)
    ping = client.get("/widget/v1/ping", {"bytes": data.draw(text)})
    assert ping.status_code == 200


def _browser_events() -> set[int]:
    return set(Event.objects.filter(source="browser").values_list("client_seq", flat=True))


signal_messages = st.fixed_dictionaries(
    {"type": st.just("signal")},
    optional={
        "seq": numbers | scalars,
        "event": st.sampled_from(
            ["TAB_FOCUS_CHANGE", "COPY_PASTE", "CONNECTION_LOST", "MULTIPLE_SCREENS", "NOPE"]
        )
        | text,
        "at": scalars,
        "payload": any_json,
    },
)
frames = st.lists(
    st.one_of(
        signal_messages.map(json.dumps),
        any_json.map(json.dumps),
        text.filter(bool),  # the test client cannot send an empty text frame
        st.just("[" * 9000 + "]" * 9000),
    ),
    min_size=1,
    max_size=6,
)


@FUZZ
@given(sent=frames)
def test_fuzz_the_socket_answers_every_frame_and_stays_up(tenant_a, sent):
    started = _start(tenant_a)

    async def run():
        async with loop_connections_closed():
            await socket_run()

    async def socket_run():
        ws = await _connect(started.token)
        assert (await ws.receive_json_from(timeout=5))["type"] == "hello"
        acked: set[int] = set()
        for frame in sent:
            before = await sync_to_async(_browser_events)()
            await ws.send_to(text_data=frame)
            answer = await ws.receive_json_from(timeout=5)
            while answer["type"] == "flag":  # a stored signal's flag comes down before its ack
                answer = await ws.receive_json_from(timeout=5)
            assert answer["type"] in {"ack", "error", "pong"}, answer
            if answer["type"] == "error":
                assert error_code(answer["code"]) is not None, answer
                assert await sync_to_async(_browser_events)() == before  # a refusal stores nothing
            elif answer["type"] == "ack":
                acked.add(answer["seq"])
        await ws.send_json_to({"type": "ping"})
        while (answer := await ws.receive_json_from(timeout=5))["type"] != "pong":
            assert answer["type"] in {"flag", "ack", "error"}
        assert await sync_to_async(_browser_events)() == acked
        await ws.disconnect()

    try:
        async_to_sync(run)()
    finally:
        ProctoringSession.objects.filter(pk=started.session.pk).delete()  # see below


auth_messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["auth", "signal", "ping"]) | text},
    optional={"token": scalars | any_json, "seq": numbers},
)


@FUZZ
@given(first=st.one_of(auth_messages.map(json.dumps), any_json.map(json.dumps), text.filter(bool)))
def test_fuzz_a_first_message_without_the_token_closes_the_socket_with_4401(tenant_a, first):
    """Anything but {"type": "auth", "token": <this session's token>} as the first frame: closed
    with the coded reason, the session as it was, nothing stored."""
    started = _start(tenant_a)
    before = _stored()

    async def run():
        async with loop_connections_closed():
            ws = await _open()
            await ws.send_to(text_data=first)
            output = await ws.receive_output(timeout=5)
            assert output == {"type": "websocket.close", "code": 4401}, output
            await ws.send_input({"type": "websocket.disconnect", "code": 1000})
            await ws.wait(timeout=3)

    try:
        async_to_sync(run)()
        assert _stored() == before
    finally:
        # Gone whatever happened, so that hypothesis' replay of a failing example starts the
        # same attempt afresh instead of failing with ATTEMPT_IN_USE.
        ProctoringSession.objects.filter(pk=started.session.pk).delete()
