"""The gaze check (analysis/gaze.py) on real photographs: the astronaut looking into
the camera, and the same photo with her irises moved sideways by a known share of the
eye (eval/eyes.py), pasted into a webcam view and sent as the widget sends it."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from analysis import frames, gaze
from analysis.frames import FrameSensitivity, analyse_frame
from eval import corpus, eyes
from tests.analysis import material

AWAY = 0.28  # of the eye's width: an eye turned ~44°


def _view(
    shift: float, face_px: float = 110, *, mirror: bool = False, light: float = 1.0, cx: float = 160
) -> np.ndarray:
    person = next(p for p in corpus.PEOPLE if p.id == "astronaut")
    photo = eyes.avert(person.load(), eyes.EYE_MARKS["astronaut"], shift)
    cut = corpus.cutout.__wrapped__(replace(person, load=lambda: photo))
    canvas = material._plain_wall((320, 240), np.random.default_rng(0))
    corpus._paste(canvas, cut, face_px, cx, 110, 0)
    if light != 1.0:
        canvas = np.clip(canvas.astype(np.float32) * light, 0, 255).astype(np.uint8)
    if mirror:
        canvas = np.ascontiguousarray(canvas[:, ::-1])
    return corpus.as_uploaded(canvas)


def test_the_composed_iris_moves_by_the_share_it_is_given():
    """Labels by construction: the iris (the darkest stretch of the eye's opening) moves
    by the shift times the eye's width, the corners and the skin around stay."""
    person = next(p for p in corpus.PEOPLE if p.id == "astronaut")
    photo = person.load()
    marks = eyes.EYE_MARKS["astronaut"]
    ax, ay, bx, by, cx, cy, radius = marks[0][:7]
    width = bx - ax

    def iris_x(img: np.ndarray) -> float:
        row = img[int(cy) - 1 : int(cy) + 2, int(ax) : int(bx) + 1].astype(np.float32).mean(axis=(0, 2))
        dark = np.convolve(row, np.ones(5) / 5, mode="same")
        return ax + float(np.argmin(dark[2:-2]) + 2)

    for shift in (-0.2, 0.2):
        moved = eyes.avert(photo, marks, shift)
        assert iris_x(moved) - iris_x(photo) == pytest.approx(shift * width, abs=2.0)
        # Outside the eyes' openings nothing changed.
        diff = np.abs(moved.astype(int) - photo.astype(int)).max(axis=2)
        ys, xs = np.nonzero(diff > 2)
        assert ys.min() >= min(ay, by) - 8 and ys.max() <= max(ay, by) + 8
        assert xs.min() >= ax - 4 and xs.max() <= marks[1][2] + 4


def test_eyes_looking_into_the_camera_are_read_and_not_away():
    obs = analyse_frame(_view(0.0))
    assert obs.face_count == 1 and obs.eyes_yaw is not None
    assert abs(obs.eyes_yaw) < 10 and abs(obs.yaw) < 10
    assert not obs.looking_away


@pytest.mark.parametrize("shift", [-AWAY, AWAY])
def test_eyes_turned_away_with_the_head_facing_the_camera_is_looking_away(shift):
    obs = analyse_frame(_view(shift))
    head_alone = FrameSensitivity(eyes_check=False)
    assert abs(obs.yaw) < 10  # head pose alone sees nothing
    assert not analyse_frame(_view(shift), sensitivity=head_alone).looking_away
    assert obs.eyes_yaw is not None and np.sign(obs.eyes_yaw) == np.sign(shift)
    assert abs(obs.eyes_yaw) > FrameSensitivity().max_eyes_yaw_deg
    assert obs.looking_away


def test_a_mirrored_camera_turns_the_eyes_the_other_way():
    straight, mirrored = analyse_frame(_view(-AWAY)), analyse_frame(_view(-AWAY, mirror=True))
    assert straight.eyes_yaw < 0 < mirrored.eyes_yaw
    assert straight.looking_away and mirrored.looking_away


def test_eyes_too_small_or_too_dark_are_not_read_and_leave_it_to_head_pose():
    small = analyse_frame(_view(-AWAY, face_px=30))
    assert small.face_count == 1 and small.eyes_yaw is None and not small.looking_away
    dark = analyse_frame(_view(-AWAY, light=0.15))
    assert dark.face_count == 1 and dark.eyes_yaw is None and not dark.looking_away
    assert not dark.blocked  # a face in view: a dim room, not a covered camera


def test_the_eyes_cost_one_face_mesh_call_and_none_when_switched_off(monkeypatch):
    calls = {"mesh": 0}
    real = frames._MESH.run

    def counting(*args):
        calls["mesh"] += 1
        return real(*args)

    monkeypatch.setattr(frames._MESH, "run", counting)
    view = _view(0.0)
    analyse_frame(view)
    assert calls["mesh"] == 1
    off = analyse_frame(view, sensitivity=FrameSensitivity(eyes_check=False))
    assert calls["mesh"] == 1 and off.eyes_yaw is None
    # A face too small for its eyes to be read: no call either.
    analyse_frame(_view(0.0, face_px=30))
    assert calls["mesh"] == 1


def test_the_iris_shift_becomes_an_angle_through_a_standard_eye():
    assert gaze.shift_to_degrees(0.0) == 0.0
    assert gaze.shift_to_degrees(0.2) == pytest.approx(30.0, abs=0.01)  # asin(0.2 x 2.5)
    assert gaze.shift_to_degrees(-0.2) == pytest.approx(-30.0, abs=0.01)
    assert gaze.shift_to_degrees(1.0) == 90.0  # clipped, never a math error


# --- the candidate's own centre, in a stream (FrameAnalyser) ----------------------------------

LIMIT = FrameSensitivity().max_eyes_yaw_deg
BOUND = FrameSensitivity().eyes_centre_max_deg


def _stub_analyser(monkeypatch, sensitivity: FrameSensitivity | None = None, state: dict | None = None):
    """A FrameAnalyser whose frames are all analysed (each a fresh random picture) and whose
    ``analyse_frame`` gives one frontal face with the eyes' reading it is told: the centre's
    bookkeeping alone, without the models. Returns ``judge(reading) -> looking_away``."""
    readings: list[float] = []

    def fake(rgb, *, sensitivity=None):
        s = sensitivity or FrameSensitivity()
        e = readings.pop()
        face = frames.FaceBox(30, 15, 20, 20, 0.95)
        return frames.FrameObservation(
            face_count=1,
            faces=(face,),
            yaw=0.0,
            pitch=0.0,
            eyes_yaw=e,
            looking_away=abs(e) > s.max_eyes_yaw_deg,
        )

    monkeypatch.setattr(frames, "analyse_frame", fake)
    analyser = frames.FrameAnalyser(sensitivity=sensitivity, state=state)
    rng = np.random.default_rng(0)

    def judge(reading: float) -> bool:
        readings.append(reading)
        before = analyser.analysed
        obs = analyser.analyse(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8), at=float(before))
        assert analyser.analysed == before + 1 and obs.eyes_yaw == reading
        return obs.looking_away

    judge.analyser = analyser
    return judge


def test_the_eyes_are_judged_from_straight_ahead_until_enough_readings(monkeypatch):
    judge = _stub_analyser(monkeypatch)
    rest = 2.0 - BOUND  # a candidate whose eyes rest 6 degrees to one side, as read
    for _ in range(frames.EYES_CENTRE_MIN_READINGS - 1):
        assert not judge(rest)
    assert judge.analyser.eyes_centre == 0.0
    assert judge(rest - LIMIT + 5)  # -24: past the limit from straight ahead; not kept
    assert judge.analyser.eyes_centre == 0.0
    assert not judge(rest)  # the last reading wanted: the centre is theirs from now on
    assert judge.analyser.eyes_centre == rest
    assert not judge(rest - LIMIT + 5)  # 14 from their centre, 20 from straight ahead
    assert judge(rest - LIMIT - 1) and judge(rest + LIMIT + 1)  # past the limit from it, either way


def test_the_centre_is_the_median_of_the_last_readings(monkeypatch):
    judge = _stub_analyser(monkeypatch)
    for _ in range(frames.EYES_CENTRE_READINGS):
        judge(-6.0)
    for _ in range(frames.EYES_CENTRE_READINGS // 2 - 1):  # under half the window elsewhere
        judge(4.0)
    assert judge.analyser.eyes_centre == -6.0
    for _ in range(frames.EYES_CENTRE_READINGS):  # the old readings leave the window
        judge(4.0)
    assert judge.analyser.eyes_centre == 4.0
    assert len(judge.analyser.state["eyes"]) == frames.EYES_CENTRE_READINGS


def test_a_long_look_away_does_not_move_the_centre(monkeypatch):
    judge = _stub_analyser(monkeypatch)
    for _ in range(frames.EYES_CENTRE_READINGS):
        judge(0.0)
    assert all(judge(-25.0) for _ in range(3 * frames.EYES_CENTRE_READINGS))
    assert judge.analyser.eyes_centre == 0.0


def test_the_centre_moves_at_most_its_bound_from_straight_ahead(monkeypatch):
    judge = _stub_analyser(monkeypatch)
    for _ in range(frames.EYES_CENTRE_READINGS):
        judge(0.0)
    # The eyes drift away a degree at a time, each step well inside the limit from the centre.
    verdicts = {}
    for k in range(1, 60):
        for _ in range(frames.EYES_CENTRE_READINGS // 2 + 1):  # enough to move the median
            verdicts[-float(k)] = judge(-float(k))
        assert judge.analyser.eyes_centre >= -BOUND
    assert judge.analyser.eyes_centre == -BOUND
    assert not any(v for r, v in verdicts.items() if r >= -BOUND - LIMIT)
    assert all(v for r, v in verdicts.items() if r < -BOUND - LIMIT)


def test_with_no_centre_allowed_the_limit_is_from_straight_ahead(monkeypatch):
    judge = _stub_analyser(monkeypatch, FrameSensitivity(eyes_centre_max_deg=0.0))
    for _ in range(frames.EYES_CENTRE_READINGS):
        judge(-6.0)
    assert judge.analyser.eyes_centre == 0.0 and judge(-20.0)


def test_the_centre_survives_the_state_between_analysis_runs(monkeypatch):
    judge = _stub_analyser(monkeypatch)
    for k in range(frames.EYES_CENTRE_MIN_READINGS + 5):
        judge(-7.0 + (k % 3))
    centre = judge.analyser.eyes_centre
    assert centre == -6.0
    state = json.loads(json.dumps(judge.analyser.state))  # stored between Celery tasks
    assert len(json.dumps(state["eyes"])) < 400
    again = _stub_analyser(monkeypatch, state=state)
    assert again.analyser.eyes_centre == centre
    assert not again(-24.0) and again(-26.0)  # judged from -6, not from straight ahead
    fresh = _stub_analyser(monkeypatch)
    assert fresh(-24.0)
    # A damaged list of readings is dropped, the rest of the state kept.
    for damaged in ("x", ["a"], {"1": 2}):
        other = _stub_analyser(monkeypatch, state={**state, "eyes": damaged})
        assert other.analyser.eyes_centre == 0.0


def test_a_biased_candidate_is_not_flagged_and_a_real_look_away_still_is():
    """Real frames: the astronaut with her eyes resting ~10 degrees to one side (as read; her
    centre stops at the bound), swaying a little so that every frame is analysed, one a
    second, through the pipeline's rule and timing for LOOKING_AWAY. A minute at rest, then
    12 s reading a spot further that side (past the limit from straight ahead: a flag without
    the centre), back, then 10 s with the eyes turned away to the other side, back, and 10 s
    away to her resting side."""
    from eval.clean_sessions import count_flags

    rest, spot = -0.12, -0.2  # of the eye's width: read ~-10 and ~-21 degrees
    plan = [(rest, 60), (spot, 12), (rest, 10), (AWAY * 0.86, 10), (rest, 10), (-AWAY, 10), (rest, 5)]
    views: dict[tuple[float, int], np.ndarray] = {}
    analyser = frames.FrameAnalyser()
    seen, absolute = [], []
    t = 0
    for shift, seconds in plan:
        for _ in range(seconds):
            cx = 150 + 20 * (t % 2)
            if (shift, cx) not in views:
                views[(shift, cx)] = _view(shift, cx=cx)
            obs = analyser.analyse(views[(shift, cx)], at=float(t))
            assert obs.face_count == 1 and obs.eyes_yaw is not None
            seen.append((float(t), obs.face_count, obs.looking_away, False))
            absolute.append((float(t), obs.face_count, obs.looking_away or abs(obs.eyes_yaw) > LIMIT, False))
            t += 1
    assert analyser.analysed > 0.8 * t
    assert analyser.eyes_centre == -BOUND
    # Without the centre the spot is a look away (the single frame says so too).
    assert analyse_frame(views[(spot, 150)]).looking_away
    assert count_flags(absolute)["LOOKING_AWAY"] == 3
    # With it the spot is not, and both looks away are.
    by_second = [away for _, _, away, _ in seen]
    assert not any(by_second[:82])
    assert all(by_second[83:92]) and all(by_second[103:112])
    assert count_flags(seen)["LOOKING_AWAY"] == 2


def test_the_resting_view_of_a_composed_view_differs_only_in_the_eyes():
    """eval/eyes_centre.py stands each composed view's resting reading for the centre its
    candidate's stream would learn: the same view, the eyes not moved."""
    for index in (0, 1):
        _, _, shift, moved = eyes.compose("tune", index, True)
        _, _, same_shift, rest = eyes.compose("tune", index, True, rest=True)
        assert same_shift == shift
        changed = np.abs(moved.astype(int) - rest.astype(int)).max(axis=2) > 0
        assert 0 < changed.mean() < 0.01
        ys, xs = np.nonzero(changed)
        assert ys.max() - ys.min() < 40  # one band across the eyes


def test_eyes_centre_judges_from_the_resting_reading_clipped_to_the_bound():
    from eval.eyes_centre import verdicts

    # (truth, single frame, head, reading, resting reading)
    rows = [
        (True, False, False, -24.0, -10.0),  # away, but only 14 from a -10 rest: clipped to -8, 16
        (True, False, False, 12.0, -10.0),  # 20 from the bound
        (False, True, False, -21.0, -10.0),  # reading to the rest's side: 13 from the bound
        (False, True, False, -21.0, -25.0),  # a rest past the limit: from straight ahead
        (True, True, True, 0.0, 0.0),  # head turned
        (False, False, False, None, None),  # real view: single frame
    ]
    assert verdicts(rows, BOUND) == [False, True, False, True, True, False]
    assert verdicts(rows, 0.0) == [r[1] for r in rows]
    assert verdicts(rows, BOUND, drifted=True) == [False, False, False, False, True, False]
