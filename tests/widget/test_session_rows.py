"""The statements written once (sessions.rows) read and write what the ORM would, on the
database the run is on (run on SQLite and on PostgreSQL): every field of the session and of
its institution, assessment and candidate, the values converted as the ORM converts them
(JSON, dates, UUIDs), columns given out of the model's order, and new rows' keys."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from sessions.models import MediaChunk, ProctoringSession
from sessions.rows import (
    ANALYSIS_RELATED,
    model_rows,
    rows_insert_new,
    session_upload_locked,
    session_with_related,
)
from tests.widget.test_upload_store import _started


def _values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_the_analysis_read_is_the_orms_select_related(tenant_a):
    session = _started(tenant_a, candidate="c-rows")
    ProctoringSession.objects.filter(pk=session.pk).update(
        analysis_state={"frame": {"cursor": 3}, "list": [1, 2.5, None]},
        trust_score=71.5,
        paused_at=timezone.now() - timedelta(seconds=5),
    )
    session.institution.detector_settings = {"disabled": ["LOOKING_AWAY"]}
    session.institution.save(update_fields=["detector_settings"])
    expected = ProctoringSession.objects.select_related(*ANALYSIS_RELATED).get(pk=session.pk)

    read = session_with_related(str(session.public_id))

    assert _values(read) == _values(expected)
    assert read.analysis_state == {"frame": {"cursor": 3}, "list": [1, 2.5, None]}
    assert isinstance(read.public_id, uuid.UUID) and read.paused_at.tzinfo is not None
    for name in ANALYSIS_RELATED:
        # Already there (no query when used) and the same row, every field of it.
        assert ProctoringSession._meta.get_field(name).is_cached(read)
        assert _values(getattr(read, name)) == _values(getattr(expected, name))
    assert read.institution.detector_settings == {"disabled": ["LOOKING_AWAY"]}
    assert session_with_related(str(uuid.uuid4())) is None


def test_the_upload_lock_reads_status_and_config(tenant_a):
    session = _started(tenant_a, candidate="c-lock")
    with transaction.atomic():
        locked = session_upload_locked(session.pk)
    assert locked.pk == session.pk
    assert locked.status == ProctoringSession.Status.ACTIVE
    assert locked.config == ProctoringSession.objects.get(pk=session.pk).config
    assert locked.get_deferred_fields() >= {"analysis_state", "trust_score"}
    with transaction.atomic():
        assert session_upload_locked(session.pk + 1000) is None


def test_rows_out_of_the_models_order_and_new_keys(tenant_a):
    session = _started(tenant_a, candidate="c-insert")
    now = timezone.now()
    chunks = [
        MediaChunk(
            institution_id=session.institution_id,
            session=session,
            kind="frame",
            seq=seq,
            captured_at=now + timedelta(seconds=seq),
            content_type="image/jpeg",
            size=10 * seq,
            meta={"seq": seq},
            file=f"x/frame-{seq}.jpg",
        )
        for seq in (1, 2, 3)
    ]
    assert rows_insert_new(MediaChunk, chunks, ("session", "kind", "seq")) == chunks
    stored = {c.pk: c for c in MediaChunk.objects.filter(session=session)}
    assert sorted(stored) == sorted(c.pk for c in chunks)
    for chunk in chunks:
        assert not chunk._state.adding
        assert (stored[chunk.pk].seq, stored[chunk.pk].meta, stored[chunk.pk].captured_at) == (
            chunk.seq,
            {"seq": chunk.seq},
            chunk.captured_at,
        )
        assert stored[chunk.pk].created_at is not None

    # Columns in another order than the model's: each value still lands in its own field.
    names = ("meta", "seq", "id", "captured_at", "file")
    sql = "SELECT meta, seq, id, captured_at, file FROM proctoring_mediachunk WHERE session_id = %s ORDER BY seq"
    read = model_rows(sql, [session.pk], MediaChunk, names)
    assert [(c.pk, c.seq, c.meta, c.captured_at, c.file.name) for c in read] == [
        (c.pk, c.seq, {"seq": c.seq}, c.captured_at, c.file.name) for c in chunks
    ]
    assert read[0].size == 10  # a field not read is loaded when first used
