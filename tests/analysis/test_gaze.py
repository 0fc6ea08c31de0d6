"""The gaze check (analysis/gaze.py) on real photographs: the astronaut looking into
the camera, and the same photo with her irises moved sideways by a known share of the
eye (eval/eyes.py), pasted into a webcam view and sent as the widget sends it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from analysis import frames, gaze
from analysis.frames import FrameSensitivity, analyse_frame
from eval import corpus, eyes
from tests.analysis import material

AWAY = 0.28  # of the eye's width: an eye turned ~44°


def _view(shift: float, face_px: float = 110, *, mirror: bool = False, light: float = 1.0) -> np.ndarray:
    person = next(p for p in corpus.PEOPLE if p.id == "astronaut")
    photo = eyes.avert(person.load(), eyes.EYE_MARKS["astronaut"], shift)
    cut = corpus.cutout.__wrapped__(replace(person, load=lambda: photo))
    canvas = material._plain_wall((320, 240), np.random.default_rng(0))
    corpus._paste(canvas, cut, face_px, 160, 110, 0)
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
