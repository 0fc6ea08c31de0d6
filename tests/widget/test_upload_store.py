"""How a batch is stored: its rows in one INSERT, and a row another upload of the same item
committed first (between this batch's duplicate check and its INSERT) is a duplicate, whose
file is removed again, while the rest of the batch is stored."""

from __future__ import annotations

import re
import wave
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions import uploads
from sessions.config import parse_eye
from sessions.models import MediaChunk, ProctoringSession
from sessions.services import session_start
from sessions.uploads import UploadItem, media_store
from tests.widget.test_upload_refusals import PCM_HALF_SECOND, _jpeg


def _started(tenant, candidate="c-store"):
    request = parse_eye(
        {
            "apiKey": tenant.publishable_key,
            "assessmentId": "chem",
            "assessmentTitle": "Chemistry",
            "candidateId": candidate,
            "candidateEmail": f"{candidate}@alpha.edu",
            "candidateFirstName": "C",
            "candidateLastName": "Store",
            "institutionName": "Alpha",
            "examDuration": 3600,
        }
    )
    return session_start(request=request, origin="https://exams.alpha.edu").session


def _items() -> list[UploadItem]:
    now = timezone.now()
    return [
        UploadItem("f1", "frame", 1, now, _jpeg()),
        UploadItem("f2", "frame", 2, now, _jpeg()),
        UploadItem("s1", "snapshot", 1, now, _jpeg()),
        UploadItem("a1", "audio", 1, now, PCM_HALF_SECOND, 0.5),
    ]


def test_a_batch_is_stored_in_one_insert(tenant_a, django_capture_on_commit_callbacks):
    session = _started(tenant_a)
    with django_capture_on_commit_callbacks(), CaptureQueriesContext(connection) as queries:
        accepted, duplicates = media_store(session=session, items=_items())
    inserts = [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "proctoring_mediachunk"')]
    assert len(inserts) == 1
    assert accepted == [
        {"kind": "frame", "seq": 1},
        {"kind": "frame", "seq": 2},
        {"kind": "snapshot", "seq": 1},
        {"kind": "audio", "seq": 1},
    ]
    assert duplicates == []
    rows = list(MediaChunk.objects.filter(session=session).order_by("kind", "seq"))
    assert [(r.kind, r.seq) for r in rows] == [("audio", 1), ("frame", 1), ("frame", 2), ("snapshot", 1)]
    folder = f"{tenant_a.institution.public_id}/{session.public_id}"
    suffixes = {"audio": "wav", "frame": "jpg", "snapshot": "jpg"}
    for row in rows:
        # Under the day's folder, the institution's and the session's, named by kind and seq (the
        # storage adds a random tail only should the name be taken).
        name = rf"sessions/\d{{4}}/\d{{2}}/\d{{2}}/{folder}/{row.kind}-{row.seq:06d}(_\w{{7}})?\.{suffixes[row.kind]}"
        assert re.fullmatch(name, row.file.name), row.file.name
        assert default_storage.exists(row.file.name)
        with row.file.open("rb") as handle:
            assert len(handle.read()) == row.size
    # Sent again: all four are duplicates, nothing is written twice.
    with django_capture_on_commit_callbacks():
        accepted, duplicates = media_store(session=session, items=_items())
    assert accepted == [] and len(duplicates) == 4
    assert MediaChunk.objects.filter(session=session).count() == 4


def test_an_item_stored_first_by_a_concurrent_upload_is_a_duplicate_and_its_file_removed(
    tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    session = _started(tenant_a)
    real = uploads._rows_insert
    written: list[str] = []

    def after_the_check(chunks, duplicates):
        # The other upload of frame 2 commits between this batch's duplicate check and its INSERT.
        with transaction.atomic():
            other = MediaChunk(
                institution_id=session.institution_id,
                session=session,
                kind="frame",
                seq=2,
                captured_at=timezone.now(),
                content_type="image/jpeg",
                size=3,
            )
            other.file.save("other-frame-2.jpg", ContentFile(b"abc"), save=False)
            other.save()
        written.extend(chunk.file.name for chunk in chunks)
        return real(chunks, duplicates)

    monkeypatch.setattr(uploads, "_rows_insert", after_the_check)
    with django_capture_on_commit_callbacks():
        accepted, duplicates = media_store(session=session, items=_items())
    assert accepted == [
        {"kind": "frame", "seq": 1},
        {"kind": "snapshot", "seq": 1},
        {"kind": "audio", "seq": 1},
    ]
    assert duplicates == [{"kind": "frame", "seq": 2}]
    rows = {(r.kind, r.seq): r for r in MediaChunk.objects.filter(session=session)}
    assert set(rows) == {("frame", 1), ("frame", 2), ("snapshot", 1), ("audio", 1)}
    assert rows[("frame", 2)].size == 3  # the other upload's row stands
    assert default_storage.exists(rows[("frame", 2)].file.name)
    clashing = [name for name in written if "frame-000002" in name]
    assert clashing and not default_storage.exists(clashing[0])  # this batch's copy is gone
    for key in [("frame", 1), ("snapshot", 1), ("audio", 1)]:
        assert default_storage.exists(rows[key].file.name)


def test_the_session_row_is_read_once_and_locked(tenant_a, django_capture_on_commit_callbacks):
    """The guard against an upload racing the session's end: its status, and the config the
    per-session limits are computed from, come from the one SELECT ... FOR UPDATE (a deferred
    field would be read again by a second, unlocked query)."""
    session = _started(tenant_a)
    with django_capture_on_commit_callbacks(), CaptureQueriesContext(connection) as queries:
        accepted, _ = media_store(session=session, items=_items())
    assert len(accepted) == 4
    reads = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT") and 'FROM "proctoring_proctoringsession"' in q["sql"]
    ]
    assert len(reads) == 1, reads
    # SQLite (the embedded default) has no FOR UPDATE: it lets one writer in at a time.
    assert ("FOR UPDATE" in reads[0]) is connection.features.has_select_for_update


def test_audio_is_stored_as_16_khz_wav_and_a_side_view_frame_is_marked_as_the_phones(
    tenant_a, django_capture_on_commit_callbacks
):
    """The widget sends bare PCM; the row says audio/wav, so the file is a WAV of those samples.
    An aux frame (the paired phone's) is marked as such; other kinds keep the meta they came with."""
    session = _started(tenant_a)
    now = timezone.now()
    items = [
        UploadItem("a1", "audio", 1, now, PCM_HALF_SECOND, 0.5),
        UploadItem("x1", "aux", 1, now, _jpeg(), meta={"ignored": True}),
        UploadItem("f1", "frame", 1, now, _jpeg(), meta={"kept": 1}),
    ]
    with django_capture_on_commit_callbacks():
        media_store(session=session, items=items)
    rows = {row.kind: row for row in MediaChunk.objects.filter(session=session)}
    with rows["audio"].file.open("rb") as handle, wave.open(handle) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.readframes(wav.getnframes()) == PCM_HALF_SECOND
    assert rows["audio"].content_type == "audio/wav"
    assert rows["aux"].meta == {"device": "aux"}
    assert rows["frame"].meta == {"kept": 1}


def test_an_accepted_batch_is_a_sign_of_life_and_is_analysed_once_committed(
    tenant_a, django_capture_on_commit_callbacks, time_machine
):
    """The live dashboard counts an upload as the candidate's sign of life, and the batch's
    analysis is queued for after the commit; a batch of duplicates only does neither."""
    time_machine.move_to(timezone.now(), tick=False)
    session = _started(tenant_a)
    ProctoringSession.objects.filter(pk=session.pk).update(last_seen_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        media_store(session=session, items=_items())
    session.refresh_from_db()
    assert session.last_seen_at == timezone.now()
    stored = MediaChunk.objects.filter(session=session)
    assert stored.count() == 4 and not stored.filter(analysed_at__isnull=True).exists()
    first_seen = session.last_seen_at
    time_machine.shift(timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        accepted, _ = media_store(session=session, items=_items())
    assert accepted == [] and callbacks == []
    session.refresh_from_db()
    assert session.last_seen_at == first_seen


def test_a_batch_sent_again_is_checked_against_its_own_sessions_items_only(
    tenant_a, django_capture_on_commit_callbacks
):
    """A batch sent again holds a stored seq (so the stored ones are looked up); another
    session's item of the same kind and seq is no duplicate of this session's new one."""
    other, session = _started(tenant_a, "c-other"), _started(tenant_a)
    now = timezone.now()
    with django_capture_on_commit_callbacks():
        media_store(
            session=other,
            items=[UploadItem("o1", "frame", 1, now, _jpeg()), UploadItem("o2", "frame", 2, now, _jpeg())],
        )
        media_store(session=session, items=[UploadItem("f1", "frame", 1, now, _jpeg())])
        accepted, duplicates = media_store(
            session=session,
            items=[UploadItem("f1", "frame", 1, now, _jpeg()), UploadItem("f2", "frame", 2, now, _jpeg())],
        )
    assert accepted == [{"kind": "frame", "seq": 2}]
    assert duplicates == [{"kind": "frame", "seq": 1}]
    assert sorted(MediaChunk.objects.filter(session=session).values_list("seq", flat=True)) == [1, 2]


def test_a_duplicate_of_one_kind_beside_a_new_item_of_another_uses_no_room_at_the_limit(
    tenant_a, django_capture_on_commit_callbacks, monkeypatch
):
    """At its audio limit, a batch sent again with a stored audio chunk and a new frame: the
    audio chunk is a duplicate (no room needed), the frame is stored. Every kind's clash with
    the batch's seqs counts, not only the last kind's."""
    monkeypatch.setattr(uploads, "PER_SESSION_SLACK", 0)
    monkeypatch.setattr(uploads, "PER_SECOND", {**uploads.PER_SECOND, "audio": 2 / 3720})
    session = _started(tenant_a)
    now = timezone.now()
    with django_capture_on_commit_callbacks():
        media_store(
            session=session,
            items=[
                UploadItem("a1", "audio", 1, now, PCM_HALF_SECOND, 0.5),
                UploadItem("a2", "audio", 2, now, PCM_HALF_SECOND, 0.5),
                UploadItem("f1", "frame", 1, now, _jpeg()),
            ],
        )
        accepted, duplicates = media_store(
            session=session,
            items=[
                UploadItem("a2", "audio", 2, now, PCM_HALF_SECOND, 0.5),
                UploadItem("f5", "frame", 5, now, _jpeg()),
            ],
        )
    assert accepted == [{"kind": "frame", "seq": 5}]
    assert duplicates == [{"kind": "audio", "seq": 2}]


def test_a_new_batch_is_four_statements_and_no_savepoint_of_its_own(
    tenant_a, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """The session locked, the stored items counted, the rows inserted (a row another upload
    stored first is skipped by the INSERT itself, not caught in a savepoint), the sign of life;
    and the upload's own transaction (here a savepoint in the test's)."""
    session = _started(tenant_a)
    media_store(session=session, items=_items()[:1])  # the session's first item, before counting
    now = timezone.now()
    batch = [UploadItem("f9", "frame", 9, now, _jpeg()), UploadItem("s9", "snapshot", 9, now, _jpeg())]
    with django_capture_on_commit_callbacks(), django_assert_num_queries(6) as queries:
        accepted, duplicates = media_store(session=session, items=batch)
    assert len(accepted) == 2 and duplicates == []
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements == ["SAVEPOINT", "SELECT", "SELECT", "INSERT", "UPDATE", "RELEASE"], statements
