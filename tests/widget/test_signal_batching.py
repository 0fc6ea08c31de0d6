"""The coalesced signal write path loses and doubles nothing, on PostgreSQL.

Many sockets of one server process send at once (their signals share
transactions), sockets drop and reconnect with signals in flight and resend
what was not acknowledged, signals are sent twice; and two writers (two
server processes) store overlapping signals of the same sessions at the same
moment. Every signal must end up stored exactly once with exactly one flag,
and every send acknowledged (``duplicate`` for every copy after the first).
"""

import asyncio
import threading
from collections import Counter

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from sessions import signal_writer
from sessions.models import Event, Flag, ProctoringSession
from sessions.services import BrowserSignal, session_end, signals_record
from tests.widget.test_consumer import _connect, _start

pytestmark = pytest.mark.django_db(transaction=True)

SOCKETS = 24
FIRST = 8  # seqs sent on the first socket
MORE = 6  # new seqs sent after the reconnect


def _stored(session_pk: int) -> list[int]:
    return list(
        Event.objects.filter(session_id=session_pk, source="browser")
        .order_by("client_seq")
        .values_list("client_seq", flat=True)
    )


def _flags(session_pk: int) -> list[str]:
    return sorted(
        Flag.objects.filter(session_id=session_pk, type="COPY_PASTE").values_list("episode_key", flat=True)
    )


async def _send(ws, seq: int) -> None:
    await ws.send_json_to(
        {"type": "signal", "seq": seq, "event": "COPY_PASTE", "payload": {"action": "copy"}}
    )


async def _acks(ws, count: int) -> list[dict]:
    acks = []
    while len(acks) < count:
        message = await ws.receive_json_from(timeout=10)
        if message["type"] == "ack":
            acks.append(message)
        else:
            assert message["type"] in ("flag",), message
    return acks


async def _candidate(token: str) -> dict:
    """One widget: seqs 1..FIRST (3 sent twice), drop with FIRST-1 and FIRST unread, resume."""
    ws = await _connect(token)
    hello = await ws.receive_json_from(timeout=10)  # 24 sockets at once on a loaded machine
    assert hello["lastClientSeq"] == 0
    for seq in range(1, FIRST + 1):
        await _send(ws, seq)
        if seq == 3:
            await _send(ws, 3)  # a double send, probably in the same batch as the first
    first = await _acks(ws, FIRST - 1)  # the last two acks are never read: the socket drops
    # disconnect() waits for the consumer to finish its queue (the last signals, then the
    # disconnect) and by default silently cancels it after 1 s: a signal still queued is then
    # never stored, its resend is stored as new and `second` fails ({8: False} != {8: True}).
    # It took up to 0.7 s at load 20; wait on the consumer itself, capped like the hellos.
    await ws.disconnect(timeout=10)
    ws = await _connect(token)
    hello = await ws.receive_json_from(timeout=10)  # 24 sockets at once on a loaded machine
    # What the widget does: resend everything it holds no ack for, then carry on.
    unacked = sorted(set(range(1, FIRST + 1)) - {a["seq"] for a in first if "duplicate" not in a})
    for seq in unacked + list(range(FIRST + 1, FIRST + MORE + 1)):
        await _send(ws, seq)
    second = await _acks(ws, len(unacked) + MORE)
    await ws.disconnect(timeout=10)
    return {"hello": hello, "first": first, "second": second, "unacked": unacked}


async def test_concurrent_sockets_reconnects_and_double_sends_store_each_signal_once(postgres, tenant_a):
    started = [await sync_to_async(_start)(tenant_a, candidate=f"c{i}") for i in range(SOCKETS)]
    writer = signal_writer.writer()
    batches, written = writer.batches, writer.written
    outcomes = await asyncio.gather(*(_candidate(s.token) for s in started))

    every = list(range(1, FIRST + MORE + 1))
    for s, outcome in zip(started, outcomes, strict=True):
        assert await sync_to_async(_stored)(s.session.pk) == every
        assert await sync_to_async(_flags)(s.session.pk) == sorted(f"seq:{n}" for n in every)
        session = await sync_to_async(ProctoringSession.objects.get)(pk=s.session.pk)
        assert session.last_client_seq == FIRST + MORE
        # Resumed from what was stored: at least every acknowledged seq (the last ones may still
        # have been in their batch's transaction when the new socket said hello).
        acked = max(a["seq"] for a in outcome["first"])
        assert acked <= outcome["hello"]["lastClientSeq"] <= FIRST
        first = Counter((a["seq"], a.get("duplicate", False)) for a in outcome["first"])
        # Seq 3 sent twice: one ack as stored, one as a duplicate (whichever batch each fell in).
        assert first[(3, False)] == 1 and first[(3, True)] == 1
        # Resent after the reconnect: already stored, so acknowledged as duplicates; the rest new.
        second = {a["seq"]: a.get("duplicate", False) for a in outcome["second"]}
        assert second == {
            **dict.fromkeys(outcome["unacked"], True),
            **dict.fromkeys(range(FIRST + 1, FIRST + MORE + 1), False),
        }
    # The signals of concurrent sockets shared transactions.
    sends = SOCKETS * (FIRST + 1 + len(outcomes[0]["unacked"]) + MORE)
    assert writer.written - written == sends
    assert writer.batches - batches < sends


def test_two_writers_racing_on_the_same_sessions_store_each_seq_once(postgres, tenant_a):
    """Two server processes' batches (threads with their own connections) with overlapping seqs."""
    sessions = [_start(tenant_a, candidate=f"r{i}").session for i in range(6)]
    batches = [
        [
            BrowserSignal(s.pk, seq, "COPY_PASTE", payload={"action": "paste"})
            for s in sessions
            for seq in seqs
        ]
        for seqs in (range(1, 41), range(21, 61), range(1, 61, 2))
    ]
    results: dict[int, list] = {}
    gate = threading.Barrier(len(batches))

    def run(index: int) -> None:
        try:
            gate.wait()
            results[index] = signals_record(batches[index])
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2]
    for s in sessions:
        assert _stored(s.pk) == list(range(1, 61))
        assert _flags(s.pk) == sorted(f"seq:{n}" for n in range(1, 61))
    # Every (session, seq) was reported stored by exactly one writer, a duplicate by the others.
    stored = Counter()
    for index, batch in enumerate(batches):
        for signal, result in zip(batch, results[index], strict=True):
            assert not result.ended
            assert result.stored != result.duplicate
            stored[(signal.session_id, signal.seq)] += result.stored
    assert set(stored.values()) == {1} and len(stored) == len(sessions) * 60


def test_a_batch_keeps_each_signals_own_outcome(postgres, tenant_a):
    """Stored, repeated in the batch, already stored, and after the end: each gets its own answer."""
    live = _start(tenant_a, candidate="live").session
    ended = _start(tenant_a, candidate="ended").session
    assert signals_record([BrowserSignal(ended.pk, 1, "COPY_PASTE"), BrowserSignal(live.pk, 1, "COPY_PASTE")])
    session_end(session=ended)
    batch = [
        BrowserSignal(live.pk, 2, "COPY_PASTE"),
        BrowserSignal(ended.pk, 1, "COPY_PASTE"),  # stored before the end: a duplicate
        BrowserSignal(live.pk, 1, "COPY_PASTE"),  # stored by the earlier batch
        BrowserSignal(ended.pk, 2, "COPY_PASTE"),  # new after the end: not stored
        BrowserSignal(live.pk, 2, "COPY_PASTE"),  # repeated in this batch
        BrowserSignal(live.pk, 3, "TAB_FOCUS_CHANGE", payload={"focused": False}),
    ]
    results = signals_record(batch)
    outcome = [(r.stored, r.duplicate, r.ended) for r in results]
    assert outcome == [
        (True, False, False),
        (False, True, False),
        (False, True, False),
        (False, False, True),
        (False, True, False),
        (True, False, False),
    ]
    # The flags each new signal raised come back for the socket that sent it; nothing for the others.
    assert [[(p["type"], p["flag"]["type"]) for p in r.pushes] for r in results] == [
        [("flag", "COPY_PASTE")],
        [],
        [],
        [],
        [],
        [("flag", "TAB_NOT_FOCUS")],
    ]
    assert _stored(live.pk) == [1, 2, 3] and _stored(ended.pk) == [1]
    assert Flag.objects.filter(session=live, type="TAB_NOT_FOCUS", ended_at__isnull=True).count() == 1
    live.refresh_from_db()
    assert live.last_client_seq == 3


def test_a_batch_flags_nothing_while_paused_and_passes_on_message_acknowledgements(postgres, tenant_a):
    """What one signal at a time does, the batch does: a paused session raises no flag, and a
    MESSAGE_ACKNOWLEDGED reaches the dashboards as a message_ack."""
    from sessions import services
    from sessions.intervention import session_pause

    paused = _start(tenant_a, candidate="paused").session
    session_pause(session=paused, reason="Fire drill")
    live = _start(tenant_a, candidate="live").session
    results = signals_record(
        [
            BrowserSignal(paused.pk, 1, "COPY_PASTE", payload={"action": "copy"}),
            BrowserSignal(live.pk, 1, "MESSAGE_ACKNOWLEDGED", payload={"messageId": "m-1"}),
        ]
    )
    assert [r.stored for r in results] == [True, True] and [r.pushes for r in results] == [(), ()]
    assert _stored(paused.pk) == [1] and not Flag.objects.filter(session=paused).exists()
    sent = []
    real = services.broadcast
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "broadcast", lambda group, body: (sent.append(body), real(group, body)))
        signals_record([BrowserSignal(live.pk, 2, "MESSAGE_ACKNOWLEDGED", payload={"messageId": "m-2"})])
    assert [(b["message"]["type"], b["message"]["messageId"], b["message"]["sessionId"]) for b in sent] == [
        ("message_ack", "m-2", str(live.public_id))
    ]


def test_a_batch_counts_flag_types_for_the_summary_once(postgres, tenant_a):
    """The fifth violation type raises SUSPICIOUS_ACTIVITY once, whether the earlier types came
    in earlier batches or in the same one, and a type seen again does not raise it again."""
    session = _start(tenant_a, candidate="summary").session
    signals_record(
        [
            BrowserSignal(session.pk, 1, "COPY_PASTE", payload={"action": "copy"}),
            BrowserSignal(session.pk, 2, "TAB_FOCUS_CHANGE", payload={"focused": False}),
        ]
    )
    for type_ in ("MULTIPLE_FACE", "FACE_ABSENCE"):
        services_flag(session, type_)
    assert not Flag.objects.filter(session=session, type="SUSPICIOUS_ACTIVITY").exists()
    signals_record(
        [
            BrowserSignal(session.pk, 3, "COPY_PASTE", payload={"action": "paste"}),  # a type seen before
            BrowserSignal(session.pk, 4, "FULLSCREEN_CHANGE", payload={"fullscreen": False}),  # the fifth
            BrowserSignal(session.pk, 5, "COPY_PASTE", payload={"action": "cut"}),
        ]
    )
    summary = Flag.objects.get(session=session, type="SUSPICIOUS_ACTIVITY")
    assert summary.payload["types"] == sorted(
        ["COPY_PASTE", "EXIT_FULLSCREEN", "FACE_ABSENCE", "MULTIPLE_FACE", "TAB_NOT_FOCUS"]
    )
    signals_record([BrowserSignal(session.pk, 6, "COPY_PASTE", payload={"action": "copy"})])
    assert Flag.objects.filter(session=session, type="SUSPICIOUS_ACTIVITY").count() == 1


def services_flag(session, type_: str) -> None:
    from sessions.services import flag_record

    flag_record(session=session, type=type_, episode_key=f"k-{type_}", started_at=session.started_at)


def test_a_batch_inserts_its_flags_once_and_pushes_them_as_stored(postgres, tenant_a):
    """A batch's new flags go in with one INSERT: a flag opened and closed in the same batch is
    found and closed, each flag the widget gets is the stored row (id and creation time), and
    each new flag is announced once, after the commit, with its row's id."""
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    from sessions import signals
    from sessions.services import iso

    session = _start(tenant_a, candidate="flags").session
    announced = []

    def on_created(sender, flag, **kwargs):
        announced.append((flag.pk, flag.type, conn.in_atomic_block))

    signals.flag_created.connect(on_created, dispatch_uid="test-batch-flags")
    try:
        with CaptureQueriesContext(conn) as queries:
            results = signals_record(
                [
                    BrowserSignal(session.pk, 1, "COPY_PASTE", payload={"action": "copy"}),
                    BrowserSignal(session.pk, 2, "TAB_FOCUS_CHANGE", payload={"focused": False}),
                    BrowserSignal(session.pk, 3, "TAB_FOCUS_CHANGE", payload={"focused": True}),
                    BrowserSignal(session.pk, 4, "COPY_PASTE", payload={"action": "paste"}),
                    BrowserSignal(session.pk, 5, "FULLSCREEN_CHANGE", payload={"fullscreen": False}),
                ]
            )
    finally:
        signals.flag_created.disconnect(dispatch_uid="test-batch-flags")
    flags = {f.episode_key: f for f in Flag.objects.filter(session=session)}
    assert sorted(flags) == ["seq:1", "seq:2", "seq:4", "seq:5"]
    tab = flags["seq:2"]
    assert tab.type == "TAB_NOT_FOCUS" and tab.ended_at is not None  # closed by seq 3, same batch
    pushed = [p["flag"] for r in results for p in r.pushes]
    assert [p["type"] for p in pushed] == ["COPY_PASTE", "TAB_NOT_FOCUS", "COPY_PASTE", "EXIT_FULLSCREEN"]
    by_id = {str(f.public_id): f for f in flags.values()}
    for p in pushed:
        assert p["createdAt"] == iso(by_id[p["flagId"]].created_at)
    assert sorted(announced) == sorted((f.pk, f.type, False) for f in flags.values())
    # Flag inserts: one before the open flag is looked for (seq 2's, for seq 3), one at the end.
    insert = f"INSERT INTO {conn.ops.quote_name(Flag._meta.db_table)}"
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(insert)]
    assert len(inserts) == 2


def test_a_batch_queues_webhooks_only_for_institutions_with_an_active_endpoint(
    postgres, tenant_a, tenant_b, monkeypatch
):
    """A batch reads which of its institutions have an active endpoint with its other statements:
    each flag of an institution with one is queued for delivery, after the commit, and the
    flags of one whose endpoint is switched off (or that has none) are not, with no further
    lookup of its endpoints."""
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    from sessions import webhooks
    from tenants.models import WebhookDelivery, WebhookEndpoint
    from tenants.services import webhook_endpoint_create

    sent = []  # queued for delivery (not sent here: no outbound connection from a test)
    monkeypatch.setattr(webhooks, "_enqueue", lambda delivery, manual: sent.append(delivery.pk))

    webhook_endpoint_create(institution=tenant_a.institution, url="https://93.184.216.34/hook")
    off, _ = webhook_endpoint_create(institution=tenant_b.institution, url="https://93.184.216.34/off")
    WebhookEndpoint.objects.filter(pk=off.pk).update(is_active=False)
    a = _start(tenant_a, candidate="hooked").session
    b = _start(tenant_b, origin="https://exams.beta.edu", candidate="unhooked").session
    WebhookDelivery.objects.all().delete()  # session.started's
    sent.clear()
    batch = [
        BrowserSignal(session.pk, seq, "COPY_PASTE", payload={"action": "copy"})
        for seq in (1, 2)
        for session in (a, b)
    ]
    with CaptureQueriesContext(conn) as queries:
        results = signals_record(batch)
    assert all(r.stored for r in results)
    flags_a = {str(f.public_id) for f in Flag.objects.filter(session=a)}
    assert len(flags_a) == 2 and Flag.objects.filter(session=b).count() == 2
    queued = list(WebhookDelivery.objects.filter(event="flag.created"))
    assert sorted(d.payload["flagId"] for d in queued) == sorted(flags_a)
    assert sorted(sent) == sorted(d.pk for d in queued)
    assert {d.institution_id for d in queued} == {tenant_a.institution.pk}
    # Looked up on their own only to queue a's two deliveries (webhook_event_emit's, per flag).
    table = conn.ops.quote_name(WebhookEndpoint._meta.db_table)
    lookups = [q["sql"] for q in queries if table in q["sql"] and not q["sql"].startswith("WITH")]
    assert len(lookups) == 2, lookups


def test_the_batchs_locked_session_rows_read_as_the_orms(postgres, tenant_a):
    """The batch reads its sessions with SQL of its own: every field as the ORM reads it (JSON
    config, times, enums), and the signed-in socket's assessment, candidate and institution."""
    from django.db import transaction
    from django.utils import timezone

    from sessions.services import _sessions_lock

    started = [_start(tenant_a, candidate=f"lock{i}").session for i in range(3)]
    ProctoringSession.objects.filter(pk=started[1].pk).update(paused_at=timezone.now(), last_client_seq=7)
    with transaction.atomic():
        locked = _sessions_lock([s.pk for s in reversed(started)])
    assert list(locked) == sorted(s.pk for s in started)  # locked in primary-key order
    for s in started:
        fresh = ProctoringSession.objects.get(pk=s.pk)
        row = locked[s.pk]
        for f in ProctoringSession._meta.concrete_fields:
            mine, orms = getattr(row, f.attname), getattr(fresh, f.attname)
            assert (mine, type(mine)) == (orms, type(orms)), f.name
        assert isinstance(row.config, dict) and row.config == fresh.config and row.config
        assert not row._state.adding


def test_batches_of_any_size_share_one_prepared_statement_per_kind_and_store_what_was_sent(
    postgres, tenant_a
):
    """On PostgreSQL the batch's statements have one text whatever the number of its signals
    (rows as JSON, keys as arrays), so the connection prepares each once and runs it again for
    every size; the rows stored are the values sent (nested, quoted and non-ASCII payloads, a
    CONNECTION_LOST's span), each flag gets its own row's id and the sessions their seqs."""
    from datetime import UTC, datetime, timedelta

    from sessions.services import iso

    assert postgres.settings_dict["OPTIONS"]["prepare_threshold"] == 2  # the default
    started = [_start(tenant_a, candidate=f"prep{i}").session for i in range(4)]
    odd = {
        "action": "paste",
        "note": "é \"quoted\" 'single' {braces} \\ back",
        "nested": {"a": [1, 2.5, None]},
    }
    seq = dict.fromkeys((s.pk for s in started), 0)
    sent = []
    for size in (1, 4, 2, 3, 1):
        batch = []
        for s in started[:size]:
            seq[s.pk] += 1
            payload = {**odd, "n": seq[s.pk]}
            batch.append(BrowserSignal(s.pk, seq[s.pk], "COPY_PASTE", payload=payload, signed_in=s))
        sent += batch
        assert all(r.stored for r in signals_record(batch))
    offline_from = datetime.now(UTC).replace(microsecond=123000) - timedelta(seconds=10)
    offline_to = offline_from + timedelta(seconds=4, microseconds=377000)
    lost = BrowserSignal(
        started[0].pk,
        seq[started[0].pk] + 1,
        "CONNECTION_LOST",
        payload={"offlineFrom": iso(offline_from), "offlineTo": iso(offline_to)},
        signed_in=started[0],
    )
    [result] = signals_record([lost])
    with postgres.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        prepared = cursor.fetchall()
    for start in ("WITH stored AS (INSERT INTO", 'INSERT INTO "proctoring_flag"', 'SELECT "id"'):
        runs = [n for text, n in prepared if text.startswith(start)]
        # One statement for all six batches: run twice as it is, then prepared and run prepared.
        assert runs == [4], (start, prepared)
    for x in sent:
        event = Event.objects.get(session_id=x.session_id, client_seq=x.seq)
        assert (event.type, event.payload, event.source) == ("COPY_PASTE", x.payload, "browser")
        assert event.public_id and event.created_at and event.institution_id == tenant_a.institution.pk
    flag = Flag.objects.get(session_id=started[0].pk, type="CONNECTION_LOST")
    assert (flag.started_at, flag.ended_at) == (offline_from, offline_to)
    assert flag.duration_seconds == 4.377 and flag.payload == {}
    [push] = result.pushes
    assert push["flag"]["flagId"] == str(flag.public_id) and push["flag"]["createdAt"] == iso(flag.created_at)
    copies = Flag.objects.filter(session_id__in=seq, type="COPY_PASTE")
    assert copies.count() == len(sent) and {f.payload["action"] for f in copies} == {"paste"}
    for s in started:
        s.refresh_from_db()
        assert s.last_client_seq == seq[s.pk] + (s.pk == started[0].pk)
