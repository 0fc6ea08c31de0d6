"""flag_record: one flag per episode, stored by one statement whether the episode is new or
stored already (the analysis records an episode when it opens and again when it closes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions import signals
from sessions.models import Flag, MediaChunk
from sessions.services import flag_record
from tests.analysis.test_pipeline_reads import _session


@pytest.fixture
def sent():
    got: list[tuple[str, str, object]] = []

    def created(sender, flag, **kwargs):
        got.append(("created", flag.episode_key, flag.ended_at))

    def updated(sender, flag, **kwargs):
        got.append(("updated", flag.episode_key, flag.ended_at))

    signals.flag_created.connect(created)
    signals.flag_updated.connect(updated)
    yield got
    signals.flag_created.disconnect(created)
    signals.flag_updated.disconnect(updated)


def _evidence(session, seq: int) -> MediaChunk:
    return MediaChunk.objects.create(
        institution_id=session.institution_id,
        session=session,
        kind="frame",
        seq=seq,
        captured_at=timezone.now(),
        content_type="image/jpeg",
        file=f"flags/frame-{seq}.jpg",
    )


def test_an_episode_opened_then_closed_is_one_flag_each_record_one_statement(
    tenant_a, sent, django_assert_num_queries, django_capture_on_commit_callbacks
):
    session = _session(tenant_a)
    start = session.started_at + timedelta(seconds=10)
    first, later = _evidence(session, 1), _evidence(session, 2)
    # Another type first, so the new one's check for a fifth violation type is what it is
    # for every flag after a session's first.
    flag_record(session=session, type="MULTIPLE_FACE", episode_key="MULTIPLE_FACE@1.000", started_at=start)
    with django_capture_on_commit_callbacks(execute=True):
        flag, created = flag_record(
            session=session,
            type="FACE_ABSENCE",
            episode_key="FACE_ABSENCE@10.000",
            started_at=start,
            evidence=first,
            payload={"frames": 5},
        )
    assert created and flag.pk and flag.ended_at is None and flag.evidence_id == first.pk
    assert sent[-1] == ("created", "FACE_ABSENCE@10.000", None)

    end = start + timedelta(seconds=7)
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(1):
        closed, created = flag_record(
            session=session,
            type="FACE_ABSENCE",
            episode_key="FACE_ABSENCE@10.000",
            started_at=start,
            ended_at=end,
            evidence=later,
        )
    assert not created and closed.pk == flag.pk and closed.public_id == flag.public_id
    assert sent[-1] == ("updated", "FACE_ABSENCE@10.000", end)
    row = Flag.objects.get(pk=flag.pk)
    assert (row.ended_at, row.duration_seconds, row.evidence_id) == (end, 7.0, later.pk)
    assert row.payload == {"frames": 5}  # no payload given: the stored one stays
    assert row.description == flag.description and row.created_at == flag.created_at
    assert Flag.objects.filter(session=session, type="FACE_ABSENCE").count() == 1


def test_the_same_episode_recorded_again_unchanged_writes_nothing_and_says_so(
    tenant_a, sent, django_capture_on_commit_callbacks
):
    session = _session(tenant_a)
    start, end = session.started_at, session.started_at + timedelta(seconds=6)
    fields = {"session": session, "type": "LOOKING_AWAY", "episode_key": "LOOKING_AWAY@0.000"}
    with django_capture_on_commit_callbacks(execute=True):
        flag, _ = flag_record(**fields, started_at=start, ended_at=end, payload={"a": 1})
        again, created = flag_record(**fields, started_at=start, ended_at=end, payload={"a": 1})
    assert not created and again.pk == flag.pk
    assert [kind for kind, _, _ in sent] == ["created"]  # no flag_updated for a row left as it was
    with django_capture_on_commit_callbacks(execute=True):
        moved, created = flag_record(**fields, started_at=start, ended_at=end, payload={"a": 2})
    assert not created and Flag.objects.get(pk=flag.pk).payload == {"a": 2}
    assert [kind for kind, _, _ in sent] == ["created", "updated"]
