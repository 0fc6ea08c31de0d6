"""Uploads → analysis → flags, through the real endpoints, task code and database."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sessions.analysis_pipeline import session_analyse
from sessions.config import parse_eye
from sessions.finalise import session_finalise
from sessions.models import Flag, MediaChunk, ProctoringSession
from sessions.services import session_end, session_start
from tests.analysis import material

ORIGIN = "https://exams.alpha.edu"
SIZE = (320, 240)


@pytest.fixture
def started(tenant_a):
    request = parse_eye(
        {
            "apiKey": tenant_a.publishable_key,
            "assessmentId": "bio",
            "assessmentTitle": "Biology",
            "candidateId": "c-1",
            "candidateEmail": "c@alpha.edu",
            "candidateFirstName": "C",
            "candidateLastName": "One",
            "institutionName": "Alpha",
            "examDuration": 3600,
            "features": {"aiProctoring": True, "facialRecognition": True},
        }
    )
    return _rewind(session_start(request=request, origin=ORIGIN))


def _rewind(started):
    """Start the session an hour ago, so capture times in the tests lie in the past."""
    earlier = started.session.started_at - timedelta(hours=1)
    ProctoringSession.objects.filter(pk=started.session.pk).update(started_at=earlier)
    started.session.started_at = earlier
    return started


def _frame(people: list[str], seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    if people:
        image = material.compose(people, SIZE, rng)
    else:
        image = material.background(SIZE, rng)
    noise = np.random.default_rng(seed + 1000).normal(0, 2, image.shape)
    return material.jpeg_bytes(np.clip(image + noise, 0, 255).astype(np.uint8), quality=60)


def _upload(client, started, items):
    files, meta = {}, []
    for i, (kind, seq, seconds, data, extra) in enumerate(items):
        part = f"p{i}"
        files[part] = SimpleUploadedFile(part, data, content_type="application/octet-stream")
        captured = started.session.started_at + timedelta(seconds=seconds)
        meta.append({"part": part, "kind": kind, "seq": seq, "capturedAt": captured.isoformat(), **extra})
    return client.post(
        f"/widget/v1/sessions/{started.session.public_id}/media",
        {"meta": json.dumps({"items": meta}), **files},
        HTTP_AUTHORIZATION=f"Bearer {started.token}",
        HTTP_ORIGIN=ORIGIN,
    )


def _frames(timeline: list[list[str]], start_seq: int = 1):
    cache: dict = {}
    for offset, people in enumerate(timeline):
        key = tuple(people)
        if key not in cache:
            cache[key] = _frame(people, seed=3 if people == ["astronaut"] else 5)
        yield ("frame", start_seq + offset, float(start_seq + offset), cache[key], {})


def _flags(session):
    return sorted(
        (
            f.type,
            round((f.started_at - session.started_at).total_seconds()),
            round((f.ended_at - session.started_at).total_seconds()) if f.ended_at else None,
        )
        for f in Flag.objects.filter(session=session)
    )


ONE, NONE, TWO = ["astronaut"], [], ["astronaut", "man_a"]
TIMELINE = [ONE] * 6 + [NONE] * 9 + [ONE] * 6 + [TWO] * 5 + [ONE] * 6


def _batches(timeline, size=5):
    items = list(_frames(timeline))
    return [items[i : i + size] for i in range(0, len(items), size)]


@pytest.mark.slow
def test_a_stretch_without_a_face_gives_one_flag_with_evidence(
    client, started, django_capture_on_commit_callbacks
):
    for batch in _batches(TIMELINE):
        with django_capture_on_commit_callbacks(execute=True):
            response = _upload(client, started, batch)
        assert response.status_code == 202, response.content
    session = ProctoringSession.objects.get(pk=started.session.pk)
    assert MediaChunk.objects.filter(session=session, kind="frame", analysed_at__isnull=False).count() == len(
        TIMELINE
    )
    flags = _flags(session)
    # 9 faceless frames (seconds 7-15) → one FACE_ABSENCE; 5 frames of two people (22-26) → one MULTIPLE_FACE.
    assert [f[0] for f in flags] == ["FACE_ABSENCE", "MULTIPLE_FACE"], flags
    absence = Flag.objects.get(type="FACE_ABSENCE")
    assert absence.started_at - session.started_at == timedelta(seconds=7)
    assert absence.ended_at - session.started_at == timedelta(seconds=15)
    assert absence.evidence is not None and absence.evidence.kind == "frame"
    assert 7 <= absence.evidence.seq <= 15
    # Provisional score by hand (docs/trust-score.md), an exam that has run 60 minutes so far:
    # FACE_ABSENCE 8 s: x = 0.05 + 0.2 × 8/60 = 0.077 → 40 × (1 − e^−0.077) = 2.95
    # MULTIPLE_FACE 4 s: x = 0.3 + 0.3 × 4/60 = 0.32 → 60 × (1 − e^−0.32) = 16.43  → 80.6.
    # The exam clock runs on while the test does: two minutes more (62) would give 81.2.
    assert 80.6 <= session.trust_score <= 81.2


@pytest.mark.slow
def test_the_same_batches_twice_and_out_of_order_give_the_same_flags(
    client, tenant_a, started, django_capture_on_commit_callbacks
):
    batches = _batches(TIMELINE)
    for batch in batches:
        with django_capture_on_commit_callbacks(execute=True):
            _upload(client, started, batch)
    in_order = _flags(started.session)

    request = parse_eye(
        {
            **started.session.config,
            "apiKey": tenant_a.publishable_key,
            "assessmentId": "bio",
            "assessmentTitle": "B",
            "candidateId": "c-2",
            "candidateEmail": "c2@alpha.edu",
            "candidateFirstName": "C",
            "candidateLastName": "Two",
            "institutionName": "Alpha",
            "examDuration": 3600,
        }
    )
    other = _rewind(session_start(request=request, origin=ORIGIN))
    shuffled = [batches[i] for i in (3, 0, 5, 1, 4, 2, 6) if i < len(batches)]
    for batch in shuffled + shuffled[:3]:  # out of order, and some twice
        with django_capture_on_commit_callbacks(execute=True):
            response = _upload(client, other, batch)
        assert response.status_code == 202
    session_analyse(session=ProctoringSession.objects.get(pk=other.session.pk))  # a retried task
    assert _flags(other.session) == in_order
    assert MediaChunk.objects.filter(session=other.session, kind="frame").count() == len(TIMELINE)


@pytest.mark.slow
def test_final_pass_closes_episodes_and_fixes_the_score(client, started, django_capture_on_commit_callbacks):
    for batch in _batches([ONE] * 3 + [NONE] * 8):
        with django_capture_on_commit_callbacks(execute=True):
            _upload(client, started, batch)
    open_flag = Flag.objects.get(type="FACE_ABSENCE")
    assert open_flag.ended_at is None  # still going
    session = session_end(session=started.session, reason="ended")
    session = session_finalise(session=ProctoringSession.objects.get(pk=session.pk))
    assert session.status == "completed" and session.score_final
    open_flag.refresh_from_db()
    assert open_flag.ended_at - session.started_at == timedelta(seconds=11)
    assert "FACE_ABSENCE" in session.trust_breakdown["types"]


def test_a_corrupt_jpeg_is_refused_and_nothing_is_stored(client, started):
    good = _frame(ONE)
    corrupt = good[: len(good) // 2]
    response = _upload(client, started, [("frame", 1, 1.0, good, {}), ("frame", 2, 2.0, corrupt, {})])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_MEDIA" and error["details"]["seq"] == 2
    assert not MediaChunk.objects.exists()
    assert (
        _upload(client, started, [("frame", 1, 1.0, b"GIF89a....", {})]).json()["error"]["code"]
        == "INVALID_MEDIA"
    )


def test_truncated_audio_is_refused(client, started):
    pcm = b"\x00\x01" * 8000  # 0.5 s
    response = _upload(
        client, started, [("audio", 1, 1.0, pcm[:-3], {"durationMs": 500, "sampleRate": 16000})]
    )
    assert response.status_code == 400 and response.json()["error"]["details"]["reason"] == "odd length"
    response = _upload(
        client, started, [("audio", 1, 1.0, pcm[: len(pcm) // 2], {"durationMs": 500, "sampleRate": 16000})]
    )
    assert response.status_code == 400 and response.json()["error"]["details"]["reason"] == "length mismatch"
    assert not MediaChunk.objects.exists()


def test_uploads_are_idempotent_and_token_bound(client, tenant_a, started):
    item = ("frame", 1, 1.0, _frame(ONE), {})
    first = _upload(client, started, [item])
    again = _upload(client, started, [item])
    assert first.json() == {"accepted": [{"kind": "frame", "seq": 1}], "duplicates": []}
    assert again.json() == {"accepted": [], "duplicates": [{"kind": "frame", "seq": 1}]}
    assert MediaChunk.objects.count() == 1
    response = client.post(
        f"/widget/v1/sessions/{started.session.public_id}/media",
        {"meta": "{}"},
        HTTP_AUTHORIZATION="Bearer nope",
        HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code == 401


def test_too_large_an_item_is_refused(client, started):
    response = _upload(client, started, [("frame", 1, 1.0, b"\xff\xd8" + b"0" * 300_000 + b"\xff\xd9", {})])
    assert response.status_code == 413 and response.json()["error"]["code"] == "MEDIA_TOO_LARGE"


@pytest.mark.slow
def test_speech_gives_sound_detected_with_a_playable_clip(
    client, started, utterance, django_capture_on_commit_callbacks
):
    rng = np.random.default_rng(4)
    quiet = material.white(16000 * 5, rng) * 0.002
    loud = quiet.copy()
    loud[8000 : 8000 + min(len(utterance), 16000 * 4)] += utterance[: 16000 * 4] * 0.6
    items = [
        ("audio", 1, 10.0, material.to_pcm(quiet), {"durationMs": 5000, "sampleRate": 16000}),
        ("audio", 2, 20.0, material.to_pcm(loud), {"durationMs": 5000, "sampleRate": 16000}),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(client, started, items).status_code == 202
    session_end(session=started.session)
    session_finalise(session=ProctoringSession.objects.get(pk=started.session.pk))
    flag = Flag.objects.get(type="SOUND_DETECTED")
    assert 20 <= (flag.started_at - started.session.started_at).total_seconds() <= 25
    assert flag.evidence.content_type == "audio/wav" and flag.evidence.kind == "evidence"
    assert flag.evidence.file.read(4) == b"RIFF"


@pytest.mark.slow
def test_a_different_person_in_snapshots_is_face_mismatch(
    client, started, django_capture_on_commit_callbacks
):
    me = _frame(ONE, seed=3)
    someone_else = _frame(["man_a"], seed=3)
    # Identity is compared on every 4th snapshot (seq 1, 5, 9, ...), two minutes apart.
    items = [("snapshot", seq, 30.0 * seq, me, {}) for seq in range(1, 9)]
    items += [("snapshot", seq, 30.0 * seq, someone_else, {}) for seq in range(9, 18)]
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(client, started, items).status_code == 202
    session = ProctoringSession.objects.get(pk=started.session.pk)
    assert session.analysis_state["identity"]["source"] == "enrolled"
    flag = Flag.objects.get(type="FACE_MISMATCH")
    assert (flag.started_at - session.started_at).total_seconds() == 270
    assert flag.payload["distance"] > 0.6


@pytest.fixture
def photo_server():
    """A real HTTP server on loopback that serves one JPEG of the candidate."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    photo = _frame(ONE, seed=3)
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(photo)))
            self.end_headers()
            self.wfile.write(photo)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/me.jpg", hits
    server.shutdown()


def _with_image_url(tenant, url, candidate="c-photo"):
    request = parse_eye(
        {
            "apiKey": tenant.publishable_key,
            "assessmentId": "bio",
            "assessmentTitle": "Biology",
            "candidateId": candidate,
            "candidateEmail": "p@alpha.edu",
            "candidateFirstName": "P",
            "candidateLastName": "Hoto",
            "institutionName": "Alpha",
            "examDuration": 3600,
            "candidateImageUrl": url,
        }
    )
    return _rewind(session_start(request=request, origin=ORIGIN))


@pytest.mark.slow
def test_reference_photo_on_a_loopback_address_is_not_fetched(
    client, tenant_a, photo_server, settings, django_capture_on_commit_callbacks
):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = False
    url, hits = photo_server
    loopback = url.replace("http://", "https://")
    for candidate_url, reason in ((url, "https"), (loopback, "The reference photo could not be fetched.")):
        started = _with_image_url(tenant_a, candidate_url, candidate=f"c-{reason}")
        with django_capture_on_commit_callbacks(execute=True):
            _upload(client, started, [("snapshot", 1, 30.0, _frame(ONE, seed=3), {})])
        identity = ProctoringSession.objects.get(pk=started.session.pk).analysis_state["identity"]
        assert reason in identity["url_error"]
        assert identity["source"] == "enrolled"  # fell back to enrolment from the first good snapshot
    assert hits == []


@pytest.mark.slow
def test_reference_photo_is_used_when_allowed_and_a_different_face_is_flagged(
    client, tenant_a, photo_server, settings, django_capture_on_commit_callbacks
):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = True  # local development only
    url, hits = photo_server
    started = _with_image_url(tenant_a, url)
    someone_else = _frame(["man_a"], seed=3)
    items = [("snapshot", seq, 30.0 * seq, someone_else, {}) for seq in range(1, 10)]
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(client, started, items).status_code == 202
    session = ProctoringSession.objects.get(pk=started.session.pk)
    assert hits == ["/me.jpg"]
    assert session.analysis_state["identity"]["source"] == "candidateImageUrl"
    flag = Flag.objects.get(session=session, type="FACE_MISMATCH")
    assert flag.payload["reference"] == "candidateImageUrl"


def test_a_run_that_records_no_flag_scores_again_only_once_the_live_score_is_old(started):
    from django.utils import timezone

    from sessions.analysis_pipeline import LIVE_SCORE_SECONDS
    from sessions.services import flag_record

    session = ProctoringSession.objects.get(pk=started.session.pk)
    session_analyse(session=session)  # the first run scores the session
    session.refresh_from_db()
    assert session.trust_score == 100.0
    # A flag from the widget's signals (not from this analysis), closed after a minute.
    flag_record(
        session=session,
        type="TAB_NOT_FOCUS",
        episode_key="TAB_NOT_FOCUS@1",
        started_at=session.started_at + timedelta(minutes=1),
        ended_at=session.started_at + timedelta(minutes=2),
    )
    session_analyse(session=session)  # nothing new for analysis, the live score is fresh
    session.refresh_from_db()
    assert session.trust_score == 100.0
    # Once the live score is older than LIVE_SCORE_SECONDS, a run scores again.
    state = session.analysis_state
    state["scored_at"] = timezone.now().timestamp() - LIVE_SCORE_SECONDS - 1
    ProctoringSession.objects.filter(pk=session.pk).update(analysis_state=state)
    session_analyse(session=session)
    session.refresh_from_db()
    assert session.trust_score < 100.0


def test_a_run_that_records_a_flag_scores_at_once(client, started, django_capture_on_commit_callbacks):
    # The first batches score the session; the stretch without a face records a flag, and the
    # run that records it scores again however fresh the live score is.
    scores = []
    for batch in _batches(TIMELINE[:20]):
        with django_capture_on_commit_callbacks(execute=True):
            assert _upload(client, started, batch).status_code == 202
        scores.append(ProctoringSession.objects.get(pk=started.session.pk).trust_score)
    assert scores[0] == 100.0
    assert Flag.objects.filter(session=started.session, type="FACE_ABSENCE").exists()
    assert scores[-1] < 100.0


@pytest.mark.slow
def test_a_long_absence_is_one_flag_with_hog_looking_again_only_once_a_minute(
    client, started, django_capture_on_commit_callbacks, monkeypatch
):
    from analysis import frames

    looks = []
    real = frames._HOG.run
    monkeypatch.setattr(frames._HOG, "run", lambda *args: looks.append(1) or real(*args))
    timeline = [ONE] * 4 + [NONE] * 80 + [ONE] * 4  # the candidate away for seconds 5-84
    for batch in _batches(timeline, size=10):
        with django_capture_on_commit_callbacks(execute=True):
            assert _upload(client, started, batch).status_code == 202
    session = ProctoringSession.objects.get(pk=started.session.pk)
    assert _flags(session) == [("FACE_ABSENCE", 5, 84)]
    # The empty view is analysed at 5 and 6 (two to agree), then every 20 s (26, 46, 66); HOG
    # looks at 5 and, its look a minute old, at 66 (each run reads its last look from the
    # session's analysis state).
    assert len(looks) == 2
