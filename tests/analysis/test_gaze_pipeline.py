"""The gaze check through the pipeline: real frames (the astronaut, her irises moved by a
known share of the eye) uploaded as detection frames raise LOOKING_AWAY; with LOOKING_AWAY
disabled the eyes are not even read.

The eyes change a frame too little for the stream analyser's still check, so frames after
the eyes turned reuse the verdict of the last analysed frame until the refresh
(``FrameAnalyser.max_still_seconds``, 20 s): a sustained look away is flagged after it, a
shorter glance is not (docs/accuracy.md, known limits)."""

from __future__ import annotations

from sessions.models import Flag, MediaChunk
from tests.analysis import material
from tests.analysis.test_gaze import AWAY, _view
from tests.analysis.test_pipeline_rules import _chunk, _eye, _raised

FRAMES, AHEAD = 36, 3  # 3 s looking at the screen, then 33 s with the eyes to the side


def _upload(session) -> None:
    ahead = material.jpeg_bytes(_view(0.0), quality=40)
    away = material.jpeg_bytes(_view(-AWAY), quality=40)
    for seq in range(1, FRAMES + 1):
        _chunk(session, "frame", seq, float(seq), None, data=ahead if seq <= AHEAD else away)


def _observations(session) -> list[dict]:
    frames = MediaChunk.objects.filter(session=session, kind="frame").order_by("seq")
    return [c.meta["obs"] for c in frames]


def test_eyes_turned_away_raise_looking_away_with_the_eyes_reading(tenant_a):
    session = _eye(tenant_a)
    _upload(session)
    assert _raised(session)["LOOKING_AWAY"] == 1
    obs = _observations(session)
    assert all(o["faces"] == 1 and not o["blocked"] for o in obs)
    assert abs(obs[0]["eyesYaw"]) < 10
    # Frames 1 and 2 are analysed (two in a row must agree before anything is reused); from
    # frame 3 on frame 2's verdict is reused, until the refresh 20 s after it: seq 22.
    first = next(i for i, o in enumerate(obs) if o["away"])
    assert first + 1 == 2 + 20 and all(o["away"] for o in obs[first:])
    assert obs[first]["eyesYaw"] < -19 and abs(obs[first]["yaw"]) < 10
    flag = Flag.objects.get(session=session, type="LOOKING_AWAY")
    assert flag.evidence is not None
    assert round((flag.started_at - session.started_at).total_seconds()) == first + 1


def test_with_looking_away_disabled_the_eyes_are_not_read(tenant_a):
    tenant_a.institution.detector_settings = {"disabled": ["LOOKING_AWAY"]}
    tenant_a.institution.save()
    session = _eye(tenant_a)
    _upload(session)
    assert "LOOKING_AWAY" not in _raised(session)
    obs = _observations(session)
    assert len(obs) == FRAMES and all("eyesYaw" not in o and not o["away"] for o in obs)
