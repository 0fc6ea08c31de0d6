"""Fault, on purpose: a Celery worker killed (SIGKILL) in the middle of analysing a
session's frames. Its task is redelivered to the next worker (acks_late, reject on
worker lost, the broker's visibility timeout and the worker's scan of unacknowledged
messages every CELERY_RESTORE_INTERVAL seconds) and gives the same flags and the same
score as an undisturbed run of the same frames.

Real parts: PostgreSQL (the test database, shared with worker processes started
here), Redis (the tests' own database; the task goes through a queue named for this run, so
nothing else's messages are taken and no database is flushed), Celery workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import cv2
import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from sessions.analysis_pipeline import session_analyse
from sessions.config import parse_eye
from sessions.models import Flag, MediaChunk, ProctoringSession
from sessions.scoring import session_score_compute
from sessions.services import session_start

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "https://exams.alpha.edu"
FRAMES = 600
VISIBILITY_TIMEOUT = 3
RESTORE_INTERVAL = 1
# The redelivery is due VISIBILITY_TIMEOUT + RESTORE_INTERVAL after the task was taken; the
# rest is the second worker starting and one analysis of 600 frames on a loaded 2-core machine.
RECOVERY_BOUND = 120

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _frames() -> list[bytes]:
    """A candidate, then nobody for a long stretch, then the candidate again: one FACE_ABSENCE."""
    from skimage import data

    face = cv2.resize(data.astronaut()[:300, 100:400], (320, 240))
    empty = cv2.resize(data.coffee(), (320, 240))  # a room's worth of texture, nobody in it
    encode = lambda rgb: cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()  # noqa: E731
    with_face, without = encode(face), encode(empty)
    third = FRAMES // 3
    return [with_face] * third + [without] * third + [with_face] * (FRAMES - 2 * third)


def _session(tenant, candidate: str, frames: list[bytes], started_at) -> ProctoringSession:
    started = session_start(
        request=parse_eye(
            {
                "apiKey": tenant.publishable_key,
                "assessmentId": "faults",
                "assessmentTitle": "Faults",
                "candidateId": candidate,
                "candidateEmail": f"{candidate}@alpha.edu",
                "candidateFirstName": "C",
                "candidateLastName": "K",
                "institutionName": "Alpha",
                "examDuration": 7200,
            }
        ),
        origin=ORIGIN,
    )
    session = started.session
    earlier = started_at
    ProctoringSession.objects.filter(pk=session.pk).update(started_at=earlier)
    session.refresh_from_db()
    for seq, jpeg in enumerate(frames, start=1):
        chunk = MediaChunk(
            institution=session.institution,
            session=session,
            kind=MediaChunk.Kind.FRAME,
            seq=seq,
            captured_at=earlier + timedelta(seconds=seq),
            content_type="image/jpeg",
            size=len(jpeg),
        )
        chunk.file.save(f"f{seq}.jpg", ContentFile(jpeg), save=False)
        chunk.save()
    return session


def _flags(session: ProctoringSession):
    return sorted(
        (
            f.type,
            f.started_at,
            f.ended_at,
            f.duration_seconds,
            f.episode_key,
            f.evidence.seq if f.evidence else None,
        )
        for f in Flag.objects.filter(session=session).select_related("evidence")
    )


def _worker(env: dict, log: Path, queue: str) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "proctorme", "worker", "-l", "info", "--concurrency", "1"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", queue],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _analysis_lock_held(session: ProctoringSession) -> bool:
    """Another connection holds the session's analysis lock (proctorme.locks): a worker is inside
    session_analyse, past the point of no return for its batch."""
    from django.db import connection

    from proctorme.locks import _advisory_key

    unsigned = _advisory_key(f"analyse:{session.pk}") & (2**64 - 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s AND objid = %s AND objsubid = 1 AND pid <> pg_backend_pid()",
            [unsigned >> 32, unsigned & 0xFFFFFFFF],
        )
        return cursor.fetchone()[0] == 1


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_a_worker_killed_mid_batch_leaves_the_same_flags_and_score_after_redelivery(
    postgres, redis_url, tenant_a, tmp_path, settings
):
    import redis
    from celery import Celery

    frames = _frames()
    # Both sessions started at the same instant, so their flags and scores compare exactly.
    started_at = timezone.now() - timedelta(hours=1)
    # The undisturbed run, in this process.
    twin = _session(tenant_a, "c-twin", frames, started_at)
    session_analyse(session=twin)
    expected = _flags(twin)
    assert [f[0] for f in expected] == ["FACE_ABSENCE"], expected

    victim = _session(tenant_a, "c-victim", frames, started_at)
    broker = redis_url
    queue = f"faults-{uuid.uuid4().hex[:12]}"
    db = postgres.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": broker,
        "TASKS_MODE": "celery",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "CELERY_RESTORE_INTERVAL": str(RESTORE_INTERVAL),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SECRET_KEY": settings.SECRET_KEY,
        "KEY_ENCRYPTION_KEY": settings.KEY_ENCRYPTION_KEY,
    }
    log = tmp_path / "worker.log"
    first = _worker(env, log, queue)
    second = None
    # Not the current app: later tests' tasks must not find this client (its broker, no config).
    client = Celery(broker=broker, set_as_current=False)
    try:
        _wait(lambda: b"ready." in log.read_bytes(), 60, "the first worker to start")
        client.send_task("sessions.session_analyse", args=[str(victim.public_id)], queue=queue)
        _wait(lambda: _analysis_lock_held(victim), 60, "the first worker to start analysing")
        _stop(first, signal.SIGKILL)
        killed_at = time.monotonic()
        assert MediaChunk.objects.filter(session=victim, analysed_at__isnull=True).count() == FRAMES, (
            "the worker finished before it was killed: nothing was interrupted"
        )
        second = _worker(env, log, queue)
        _wait(
            lambda: not MediaChunk.objects.filter(session=victim, analysed_at__isnull=True).exists(),
            RECOVERY_BOUND,
            "the redelivered task to analyse every frame",
        )
        print(f"recovered {time.monotonic() - killed_at:.1f} s after the kill")
        victim.refresh_from_db()
        assert victim.trust_score is not None  # the redelivered run scored the session
        assert _flags(victim) == expected
        twin.refresh_from_db()
        assert session_score_compute(session=victim) == session_score_compute(session=twin)
    finally:
        _stop(first, signal.SIGKILL)
        if second is not None:
            _stop(second)
        client.close()
        redis.Redis.from_url(broker).delete(queue, f"_kombu.binding.{queue}")
        print(log.read_text(errors="replace")[-3000:])
