"""analyse_stream / FrameAnalyser: skipping detection on near-identical frames
must not hide what happens in the frame that changes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.frames import (
    FrameAnalyser,
    FrameObservation,
    FrameSensitivity,
    _thumbnail,
    analyse_frame,
    analyse_stream,
    frame_change,
)
from tests.analysis import material

pytestmark = pytest.mark.slow


def _key(obs: FrameObservation) -> tuple[int, bool]:
    return min(obs.face_count, 2), obs.looking_away


def _run(plan, **kw):
    frames = material.webcam_stream(plan, **kw)
    analyser = FrameAnalyser()
    observations, analysed = [], []
    for f in frames:
        before = analyser.analysed
        observations.append(analyser.analyse(f.image))
        analysed.append(analyser.analysed > before)
    return frames, observations, analysed


def test_a_still_candidate_is_mostly_reused_but_analysed_at_least_every_ten_frames():
    frames, observations, analysed = _run((("still", 40),), seed=1)
    assert all(_key(o) == (1, False) for o in observations)
    assert sum(analysed) <= 25  # sways of a pixel or so do not count as change
    gaps = np.diff(np.flatnonzero(analysed))
    assert gaps.max() <= FrameAnalyser().max_reused + 1


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("second_height", [0.6, 0.3], ids=["near", "far-back"])
def test_a_second_person_arriving_is_seen_in_the_first_frame(seed, second_height):
    frames, observations, analysed = _run((("still", 15), ("two", 4)), seed=seed, second_height=second_height)
    arrival = 15
    assert analysed[arrival]
    for f, o in zip(frames, observations, strict=True):
        assert _key(o) == _key(analyse_frame(f.image))
    assert observations[arrival - 1].face_count == 1
    assert all(o.face_count == 2 for o in observations[arrival:])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_candidate_leaving_is_seen_in_the_first_frame(seed):
    frames, observations, analysed = _run((("still", 15), ("absent", 4), ("still", 4)), seed=seed)
    assert analysed[15] and analysed[19]
    assert [o.face_count for o in observations[13:21]] == [1, 1, 0, 0, 0, 0, 1, 1]
    assert not any(o.face_hidden for o in observations)  # gone, not hidden: an absence


def test_a_cup_in_front_of_the_face_hides_it_without_an_absence_and_not_for_long():
    from eval import corpus

    rng = np.random.default_rng(11)
    person = next(p for p in corpus.PEOPLE if p.id == "astronaut")
    cut = corpus.cutout(person)
    backdrop = corpus._backdrop("room", corpus._pools("tune").scenes, rng)

    def view(cup: bool) -> np.ndarray:
        canvas = backdrop.copy()
        corpus._paste(canvas, cut, 70.0, 160.0, 100.0, 0.0)
        if cup:  # a big mug: the whole lower face and below
            canvas[95:185, 125:195] = (200, 40, 40)
        return np.clip(canvas + rng.normal(0, 2.0, canvas.shape), 0, 255).astype(np.uint8)

    analyser = FrameAnalyser()
    seen = [analyser.analyse(view(False), at=float(t)) for t in range(3)]
    assert all(o.face_count == 1 for o in seen)
    covered = [analyser.analyse(view(True), at=float(t)) for t in range(3, 40, 2)]
    lost = [o for o in covered if o.face_count == 0]
    assert lost, "the mug should hide the face from the detector"
    # Hidden while the last face is under 30 s old, then an absence like any other.
    for t, o in zip(range(3, 40, 2), covered, strict=True):
        if o.face_count == 0:
            assert o.face_hidden == (t - 2 <= 30), t
    # The candidate leaving changes their shoulders too: not hidden.
    gone = FrameAnalyser()
    for t in range(3):
        gone.analyse(view(False), at=float(t))
    empty = np.clip(backdrop + rng.normal(0, 2.0, backdrop.shape), 0, 255).astype(np.uint8)
    assert [gone.analyse(empty, at=float(t)).face_hidden for t in range(3, 6)] == [False] * 3


@pytest.mark.parametrize("seed", [0, 1])
def test_a_head_turned_away_and_a_covered_camera_are_seen_in_the_first_frame(seed):
    frames, observations, analysed = _run(
        (("still", 12), ("away", 3), ("still", 3), ("blocked", 3)), seed=seed
    )
    assert analysed[12] and observations[12].looking_away and not observations[11].looking_away
    assert not observations[17].blocked
    assert all(o.blocked and o.face_count == 0 for o in observations[18:])


def test_a_miss_on_one_analysed_frame_is_not_reused(monkeypatch):
    from analysis import frames

    images = [f.image for f in material.webcam_stream((("still", 12),), seed=2)]
    real, calls = frames.analyse_frame, []

    def flaky(rgb, *, sensitivity=None):
        calls.append(1)
        obs = real(rgb, sensitivity=sensitivity)
        return FrameObservation(face_count=0, brightness=obs.brightness) if len(calls) == 2 else obs

    monkeypatch.setattr(frames, "analyse_frame", flaky)
    analyser = FrameAnalyser()
    out = []
    for img in images:
        out.append(analyser.analyse(img))
        if len(calls) == 2:
            break
    missed_at = len(out) - 1
    assert out[missed_at].face_count == 0
    # The next frame, however similar, is analysed again rather than given the miss.
    assert analyser.analyse(images[missed_at + 1]).face_count == 1 and len(calls) == 3


def test_reused_frames_get_their_own_brightness_and_blocked_check():
    base = material.webcam_stream((("still", 1),), seed=4)[0].image
    brighter = np.clip(base.astype(np.int16) + 3, 0, 255).astype(np.uint8)
    analyser = FrameAnalyser()
    analyser.analyse(base)
    first = analyser.analyse(base)  # two analysed frames agree: from now on, still frames are reused
    second = analyser.analyse(brighter)
    assert analyser.analysed == 2 and analyser.reused == 1
    assert second.brightness > first.brightness + 2
    assert second.faces == first.faces and second.yaw == first.yaw


def test_state_is_small_json_and_batches_give_the_same_observations_as_one_run():
    frames = [f.image for f in material.webcam_stream(material.STREAM_PLAN[:8], seed=5)]
    whole, state = analyse_stream(frames, state=None)
    again, state_again = analyse_stream(frames, state={})
    assert again == whole and state_again == state
    # Three 32x24 thumbnails (the last analysed frame's, the last with one face, the last whole
    # look's; 1,024 characters each in base64) and one observation.
    assert len(json.dumps(state)) < 5000
    batched, st = [], None
    for i in range(0, len(frames), 37):
        out, st = analyse_stream(frames[i : i + 37], state=st)
        st = json.loads(json.dumps(st))  # stored between Celery tasks
        batched += out
    assert batched == whole and st == state


def test_a_state_from_other_settings_is_not_used():
    frames = [f.image for f in material.webcam_stream((("still", 3),), seed=6)]
    _, state = analyse_stream(frames[:2])
    same = FrameAnalyser(state=state)
    same.analyse(frames[2])
    assert same.reused == 1
    other = FrameAnalyser(sensitivity=FrameSensitivity(max_yaw_deg=20.0), state=state)
    other.analyse(frames[2])
    assert other.analysed == 1 and other.reused == 0
    for garbled in ({"version": 0}, {**state, "thumb": "not base64!"}, {**state, "observation": {}}):
        analyser = FrameAnalyser(state=garbled)
        analyser.analyse(frames[2])
        assert analyser.analysed == 1


def test_observations_round_trip_through_json():
    img = material.compose(["astronaut", "man_a"], (320, 240), np.random.default_rng(4))
    obs = analyse_frame(img)
    back = FrameObservation.from_dict(json.loads(json.dumps(obs.as_dict())))
    assert back == obs and [f.keypoints for f in back.faces] == [f.keypoints for f in obs.faces]


def test_frame_change_ignores_noise_and_exposure_but_not_a_new_face():
    still, two = (f.image for f in material.webcam_stream((("still", 1), ("two", 1)), seed=7))
    rng = np.random.default_rng(0)
    noisy = material.jpeg_roundtrip(np.clip(still + rng.normal(0, 3, still.shape), 0, 255).astype(np.uint8))
    dimmer = np.clip(still.astype(np.int16) - 4, 0, 255).astype(np.uint8)
    ref = _thumbnail(still)
    threshold = FrameAnalyser().still_threshold
    assert frame_change(ref, _thumbnail(noisy)) < threshold / 3
    assert frame_change(ref, _thumbnail(dimmer)) < threshold / 3
    assert frame_change(ref, _thumbnail(two)) > threshold * 2


def test_analyse_jpeg_gives_what_analyse_gives_and_decodes_still_frames_small(monkeypatch):
    from analysis import frames

    stream = material.webcam_stream((("still", 8), ("two", 3)), seed=3)
    jpegs = [material.jpeg_bytes(f.image, quality=40) for f in stream]
    full_decodes = []
    real_decode = frames.decode_jpeg
    monkeypatch.setattr(frames, "decode_jpeg", lambda data: full_decodes.append(1) or real_decode(data))
    by_bytes, by_pixels = FrameAnalyser(), FrameAnalyser()
    for t, data in enumerate(jpegs):
        a = by_bytes.analyse_jpeg(data, at=float(t))
        b = by_pixels.analyse(real_decode(data), at=float(t))
        assert _key(a) == _key(b) and a.faces == b.faces
        assert abs(a.brightness - b.brightness) < 1.5  # the quarter-size decode's grey, not the full one's
    assert by_bytes.reused == by_pixels.reused >= 4
    assert len(full_decodes) == by_bytes.analysed  # a reused frame is never decoded in full
    assert by_bytes.analyse_jpeg(jpegs[-1], at=11.0).face_count == 2
    with pytest.raises(frames.InvalidImage):
        by_bytes.analyse_jpeg(jpegs[0][:-200], at=12.0)


def test_with_capture_times_a_still_view_is_analysed_again_once_the_last_analysis_is_old():
    base = material.webcam_stream((("still", 1),), seed=8)[0].image
    rng = np.random.default_rng(8)
    frames = [np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8) for _ in range(12)]
    analyser = FrameAnalyser(max_still_seconds=20.0)
    analysed_at = []
    for i, img in enumerate(frames):  # one frame every 2 s, as the widget sends a still view
        before = analyser.analysed
        analyser.analyse(img, at=2.0 * i)
        if analyser.analysed > before:
            analysed_at.append(2.0 * i)
    # Two analysed frames to agree, then reuse for under 20 s, then analysed again.
    assert analysed_at[:2] == [0.0, 2.0]
    assert analysed_at == [0.0, 2.0, 22.0]
    # A capture time going backwards (a replay) is not a reason to reuse.
    assert FrameAnalyser(state=analyser.state).analyse(frames[0], at=0.0) is not None


def test_an_exposure_gain_is_not_change():
    still = material.webcam_stream((("still", 1),), seed=9)[0].image
    brighter = np.clip(still.astype(np.float32) * 1.05 + 2, 0, 255).astype(np.uint8)
    assert frame_change(_thumbnail(still), _thumbnail(brighter)) < 2.0
    much = np.clip(still.astype(np.float32) * 1.25, 0, 255).astype(np.uint8)
    assert frame_change(_thumbnail(still), _thumbnail(much)) > 5.0


@pytest.mark.parametrize("seed", [0, 1])
def test_a_seated_candidate_gets_the_tracked_look_but_an_arrival_the_whole_cascade(seed, monkeypatch):
    from analysis import frames

    frames_ = material.webcam_stream((("still", 12), ("moving", 12), ("two", 3)), seed=seed)
    wide = []
    real = frames.analyse_frame
    monkeypatch.setattr(frames, "analyse_frame", lambda rgb, **kw: wide.append(1) or real(rgb, **kw))
    analyser = FrameAnalyser()
    observations = []
    for i, f in enumerate(frames_):
        before = len(wide)
        observations.append(analyser.analyse(f.image, at=float(i)))
        if i == 24:  # the second person arrives: outside the tracked square, the whole cascade
            assert len(wide) == before + 1
    assert analyser.tracked > 0
    # The tracked look never runs twice more than TRACK_WIDE_EVERY allows between whole looks.
    assert analyser.tracked <= (frames.TRACK_WIDE_EVERY - 1) * len(wide)
    for f, o in zip(frames_, observations, strict=True):
        assert _key(o) == _key(real(f.image))
    assert all(o.face_count == 2 for o in observations[24:])


def test_the_tracked_look_finds_the_face_it_follows_and_nothing_where_it_left():
    from analysis.frames import FrameSensitivity, tracked_face

    one, empty = (f.image for f in material.webcam_stream((("still", 1), ("absent", 1)), seed=0))
    face = analyse_frame(one).faces[0]
    found = tracked_face(one, face, FrameSensitivity())
    assert found is not None and abs(found.x - face.x) < face.w * 0.2
    assert tracked_face(empty, face, FrameSensitivity()) is None  # gone: the whole cascade decides


def _hog_counted(monkeypatch) -> list[int]:
    from analysis import frames

    looks: list[int] = []
    real = frames._HOG.run
    monkeypatch.setattr(frames._HOG, "run", lambda *args: looks.append(1) or real(*args))
    return looks


def test_on_an_empty_view_hog_looks_again_only_when_it_changed_or_a_minute_on(monkeypatch):
    from analysis import frames

    looks = _hog_counted(monkeypatch)
    room = material.background((320, 240), np.random.default_rng(4))
    rng = np.random.default_rng(9)
    views = [np.clip(room + rng.normal(0, 2, room.shape), 0, 255).astype(np.uint8) for _ in range(50)]
    analyser = FrameAnalyser()
    analysed_at, looked_at = [], []
    for i, img in enumerate(views):  # one frame every 2 s, as the widget sends a still view
        before, seen = analyser.analysed, len(looks)
        obs = analyser.analyse(img, at=2.0 * i)
        assert obs.face_count == 0 and not obs.blocked and not obs.face_hidden  # an absence throughout
        if analyser.analysed > before:
            analysed_at.append(2.0 * i)
        if len(looks) > seen:
            looked_at.append(2.0 * i)
    # Mediapipe's looks on every analysed frame (two to agree, then every 20 s); HOG on the
    # first and once its look is a minute old.
    assert analysed_at == [0.0, 2.0, 22.0, 42.0, 62.0, 82.0]
    assert looked_at == [0.0, 62.0] and analyser.hog_skipped == 4
    assert frames.HOG_AGAIN_SECONDS == 60.0
    # A view that changed gets HOG's look at once.
    moved = np.roll(room, 40, axis=1)
    before = len(looks)
    analyser.analyse(moved, at=100.0)
    assert len(looks) == before + 1
    # Without capture times HOG looks on every empty analysed frame, as analyse_frame does.
    looks.clear()
    timeless = FrameAnalyser()
    for img in views[:12]:
        timeless.analyse(img)
    assert len(looks) == timeless.analysed and timeless.hog_skipped == 0


def test_a_face_only_hog_finds_is_found_on_the_first_frame_after_an_empty_view(monkeypatch):
    from analysis import frames
    from analysis.frames import detect_faces

    room = material.background((320, 240), np.random.default_rng(4))  # a furnished room

    def overexposed(canvas):
        return material.jpeg_roundtrip(
            np.clip(canvas.astype(np.float32) * 1.8, 0, 255).astype(np.uint8), quality=60
        )

    empty = overexposed(room)
    with_face = room.copy()
    material._paste(with_face, material.portrait("glasses"), 130, -30, 400)  # close, partly out of view
    face = overexposed(with_face)
    monkeypatch.setattr(frames, "_recovered", lambda *args: [])
    assert detect_faces(face) == []  # the cascade misses it
    monkeypatch.undo()
    looks = _hog_counted(monkeypatch)
    assert analyse_frame(face).face_count == 1 and looks  # HOG finds it, short range confirms it
    looks.clear()
    analyser = FrameAnalyser()
    for i in range(2):
        assert analyser.analyse(empty, at=2.0 * i).face_count == 0
    # Stored between runs as the pipeline stores it: the view HOG found nothing in goes too.
    analyser = FrameAnalyser(state=json.loads(json.dumps(analyser.state)))
    for i in range(2, 16):
        assert analyser.analyse(empty, at=2.0 * i).face_count == 0
    assert len(looks) == 1 and analyser.hog_skipped == 1  # the 20-s refresh (t = 22 s) skipped it
    obs = analyser.analyse(face, at=32.0)
    assert obs.face_count == 1 and len(looks) == 2
