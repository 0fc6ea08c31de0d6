"""One queued analysis run per session, not one per upload.

Real parts: the upload endpoint, the queueing code, the analysis task and pipeline, PostgreSQL
(uploads commit for real, so their after-commit queueing runs as in production) and the cache
(Redis when REDIS_URL is set). The broker is a list: the task's ``apply_async`` appends to it,
and the test plays the worker, taking the queued runs in order and running the task.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from sessions import analysis_pipeline
from sessions.config import parse_eye
from sessions.models import MediaChunk, ProctoringSession
from sessions.services import session_start
from sessions.tasks import session_analyse_task
from tests.analysis import material

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ORIGIN = "https://exams.alpha.edu"


@pytest.fixture
def broker(settings, monkeypatch):
    settings.TASKS_MODE = "celery"
    queued: list[tuple] = []
    monkeypatch.setattr(
        session_analyse_task, "apply_async", lambda args=(), kwargs=None, countdown=None: queued.append(args)
    )
    return queued


@pytest.fixture
def observed(monkeypatch):
    """Each chunk's observations as the pipeline makes them (the real functions, counted)."""
    counts: dict[int, int] = {}
    for name in ("_observe_frame", "_observe_picture"):
        real = getattr(analysis_pipeline, name)

        def counted(chunk, *args, _real=real, **kwargs):
            counts[chunk.pk] = counts.get(chunk.pk, 0) + 1
            return _real(chunk, *args, **kwargs)

        monkeypatch.setattr(analysis_pipeline, name, counted)
    return counts


@pytest.fixture
def started(postgres, tenant_a):
    request = parse_eye(
        {
            "apiKey": tenant_a.publishable_key,
            "assessmentId": "queue",
            "assessmentTitle": "Queue",
            "candidateId": "c-queue",
            "candidateEmail": "q@alpha.edu",
            "candidateFirstName": "Q",
            "candidateLastName": "One",
            "institutionName": "Alpha",
            "examDuration": 3600,
        }
    )
    started = session_start(request=request, origin=ORIGIN)
    earlier = started.session.started_at - timedelta(hours=1)
    ProctoringSession.objects.filter(pk=started.session.pk).update(started_at=earlier)
    started.session.started_at = earlier
    yield started
    cache.delete(analysis_pipeline._queued_key(started.session.public_id))


FRAME = material.jpeg_bytes(material.background((320, 240), np.random.default_rng(5)), quality=60)
SNAPSHOT = material.jpeg_bytes(material.background((640, 480), np.random.default_rng(6)), quality=60)


def _upload(started, first_seq: int, *, snapshot: bool = False) -> None:
    """One upload as the widget sends it: five frames (and a snapshot), through the endpoint."""
    items = [("frame", seq, FRAME) for seq in range(first_seq, first_seq + 5)]
    if snapshot:
        items.append(("snapshot", first_seq // 5 + 1, SNAPSHOT))
    files, meta = {}, []
    for i, (kind, seq, data) in enumerate(items):
        files[f"p{i}"] = SimpleUploadedFile(f"p{i}", data, content_type="application/octet-stream")
        captured = started.session.started_at + timedelta(seconds=seq)
        meta.append({"part": f"p{i}", "kind": kind, "seq": seq, "capturedAt": captured.isoformat()})
    response = Client().post(
        f"/widget/v1/sessions/{started.session.public_id}/media",
        {"meta": json.dumps({"items": meta}), **files},
        HTTP_AUTHORIZATION=f"Bearer {started.token}",
        HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code == 202, response.content


def _work(broker: list) -> int:
    """The worker: every queued run, in order (runs queued meanwhile included); how many ran."""
    ran = 0
    while broker:
        session_analyse_task.run(*broker.pop(0))
        ran += 1
    return ran


def _all_observed_once(started, observed: dict) -> None:
    chunks = MediaChunk.objects.filter(session=started.session, kind__in=["frame", "snapshot"])
    assert chunks.count() > 0
    assert not chunks.filter(analysed_at__isnull=True).exists()
    assert {pk: observed.get(pk, 0) for pk in chunks.values_list("pk", flat=True)} == dict.fromkeys(
        chunks.values_list("pk", flat=True), 1
    )


def test_ten_uploads_while_a_run_is_queued_queue_one_run_that_takes_every_chunk(started, broker, observed):
    for n in range(10):
        _upload(started, 1 + 5 * n, snapshot=n % 3 == 0)
    assert broker == [(str(started.session.public_id),)]  # one run queued, not ten
    assert _work(broker) == 1
    assert MediaChunk.objects.filter(session=started.session).count() == 50 + 4
    _all_observed_once(started, observed)
    # Once that run has started, the next upload queues the next run, which takes only it.
    _upload(started, 51)
    assert len(broker) == 1
    assert _work(broker) == 1
    _all_observed_once(started, observed)


def test_an_upload_while_a_run_is_in_progress_queues_the_next_run(started, broker, observed, monkeypatch):
    _upload(started, 1, snapshot=True)
    assert len(broker) == 1
    real = analysis_pipeline._observe_pending
    during: list[int] = []

    def observe_then_upload(session, settings, enabled, pending):
        # The run has started and read the pending snapshots: an upload arrives now, from
        # another request (its own thread and connection), and commits before the run folds.
        out = real(session, settings, enabled, pending)
        if not during:
            during.append(len(broker))

            def upload():
                try:
                    _upload(started, 6, snapshot=True)
                finally:
                    connection.close()

            thread = threading.Thread(target=upload)
            thread.start()
            thread.join()
            during.append(len(broker))
        return out

    monkeypatch.setattr(analysis_pipeline, "_observe_pending", observe_then_upload)
    assert _work(broker) == 2  # the run in progress, then the one the upload queued
    assert during == [0, 1]  # nothing queued when the run started; the upload queued one
    assert MediaChunk.objects.filter(session=started.session).count() == 12
    _all_observed_once(started, observed)


def test_the_sweep_leaves_a_session_whose_run_is_queued_to_that_run(started, broker, observed, settings):
    settings.PROCTORME_ANALYSIS_PENDING_GRACE = 1
    _upload(started, 1)
    MediaChunk.objects.filter(session=started.session).update(
        created_at=started.session.started_at  # waited longer than the grace
    )
    assert len(broker) == 1
    assert analysis_pipeline.analysis_pending_enqueue() == 0  # its run is queued already
    assert len(broker) == 1
    # A run lost on its way to the broker: once its mark has gone, the sweep queues it again.
    cache.delete(analysis_pipeline._queued_key(started.session.public_id))
    broker.clear()
    assert analysis_pipeline.analysis_pending_enqueue() == 1
    assert _work(broker) == 1
    _all_observed_once(started, observed)
