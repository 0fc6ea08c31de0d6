"""Finding 10: quotas on what the public key and one session can make the server store and analyse."""

import cv2
import numpy as np
import pytest
from django.core.cache import cache

from sessions.models import Candidate, MediaChunk, ProctoringSession
from sessions.uploads import session_media_limit
from tests.widget.test_consumer import _start
from tests.widget.test_session_start import eye_config, start
from tests.widget.test_upload_refusals import _batch, _frame


def _jpeg_of(width: int, height: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((height, width, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


@pytest.fixture
def started(tenant_a):
    return _start(tenant_a)


@pytest.mark.parametrize(("kind", "size"), [("frame", (1280, 960)), ("snapshot", (2048, 1536))])
def test_finding10_pictures_far_larger_than_the_widget_sends_are_refused(client, started, kind, size):
    response = _batch(client, started, [({"kind": kind, "seq": 1}, _jpeg_of(*size))])
    assert response.status_code == 400, response.content
    assert "too large" in response.json()["error"]["details"]["reason"]
    assert not MediaChunk.objects.exists()


def test_finding10_the_widgets_own_sizes_are_accepted(client, started):
    response = _batch(
        client,
        started,
        [
            ({"kind": "frame", "seq": 1}, _jpeg_of(320, 240)),
            ({"kind": "snapshot", "seq": 1}, _jpeg_of(640, 480)),
        ],
    )
    assert response.status_code == 202, response.content


def test_finding10_a_session_stores_no_more_items_than_its_exam_can_have(client, started, monkeypatch):
    from sessions import uploads

    monkeypatch.setattr(uploads, "PER_SESSION_SLACK", 0)
    monkeypatch.setattr(uploads, "PER_SECOND", {"frame": 3 / 3720, "snapshot": 0.1, "audio": 0.5})
    assert session_media_limit(started.session, "frame") == 3
    assert _batch(client, started, [_frame(1), _frame(2), _frame(3)]).status_code == 202
    refused = _batch(client, started, [_frame(4)])
    assert refused.status_code == 413
    assert refused.json()["error"] == {
        "code": "MEDIA_TOO_LARGE",
        "message": "This session has stored all the frame items an exam of its length can have.",
        "details": {"kind": "frame", "reason": "session limit", "limit": 3},
    }
    assert _batch(client, started, [_frame(3)]).status_code == 202  # a retry of a stored item still acks
    assert MediaChunk.objects.count() == 3


def test_finding10_new_sessions_per_institution_are_rate_limited(client, tenant_a, settings):
    settings.PROCTORME_NEW_SESSIONS_PER_MINUTE = 3
    cache.clear()
    codes = [
        start(client, {"dialect": "eye", "config": eye_config(tenant_a, candidateId=f"c{i}")}).status_code
        for i in range(5)
    ]
    assert codes == [201, 201, 201, 429, 429]
    assert ProctoringSession.objects.count() == 3 and Candidate.objects.count() == 3
    refused = start(client, {"dialect": "eye", "config": eye_config(tenant_a, candidateId="c9")})
    assert refused.json()["error"]["code"] == "RATE_LIMITED"


def test_finding10_the_per_session_limits_are_the_widgets_cadence_over_the_exam_plus_room(tenant_a):
    """(examSeconds + 120 s) × the kind's rate, plus 300 items of slack; an untimed exam gets
    the 120 s and the slack only."""
    from tests.factories import SessionFactory

    hour = SessionFactory(institution=tenant_a.institution, config={"examSeconds": 3600})
    untimed = SessionFactory(institution=tenant_a.institution, config={})
    assert {
        kind: session_media_limit(hour, kind) for kind in ("frame", "snapshot", "audio", "recording")
    } == {
        "frame": 3720 * 3 // 2 + 300,
        "snapshot": 372 + 300,
        "audio": 1860 + 300,
        "recording": 744 + 300,
    }
    assert session_media_limit(untimed, "frame") == 180 + 300
    assert session_media_limit(untimed, "snapshot") == 12 + 300


def test_finding10_the_session_limit_counts_this_sessions_items_only(client, tenant_a, started, monkeypatch):
    """Another session's items, of the same kind and seqs, use none of this session's room."""
    from sessions import uploads

    monkeypatch.setattr(uploads, "PER_SESSION_SLACK", 0)
    monkeypatch.setattr(uploads, "PER_SECOND", {**uploads.PER_SECOND, "frame": 3 / 3720})
    other = _start(tenant_a, candidate="cand-other")
    assert _batch(client, other, [_frame(1), _frame(2), _frame(3)]).status_code == 202
    response = _batch(client, started, [_frame(1), _frame(2), _frame(3)])
    assert response.status_code == 202, response.content
    assert len(response.json()["accepted"]) == 3
    assert MediaChunk.objects.filter(session=started.session).count() == 3
