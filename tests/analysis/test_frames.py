from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from analysis import frames
from analysis.frames import (
    FaceBox,
    FrameObservation,
    FrameSensitivity,
    InvalidImage,
    analyse_frame,
    camera_blocked,
    decode_jpeg,
    detect_faces,
    head_pose,
    keypoint_pose,
)
from tests.analysis import material

pytestmark = pytest.mark.slow
MIN_SCORE = 0.95


# --- decoding ---------------------------------------------------------------------


def _jpeg(w: int = 64, h: int = 48) -> bytes:
    rng = np.random.default_rng(0)
    return material.jpeg_bytes(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def test_decode_jpeg_gives_rgb_uint8_of_the_right_size():
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :, 0] = 255  # pure red survives the round trip as red, not blue
    out = decode_jpeg(material.jpeg_bytes(rgb, quality=95))
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    assert out[..., 0].mean() > 240 and out[..., 2].mean() < 15


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a jpeg at all",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
        _jpeg()[:-200],  # truncated: cv2 alone would decode a grey half-image
        _jpeg()[:200],
        _jpeg()[:2] + b"\x00" * 300 + b"\xff\xd9",  # SOI and EOI around garbage
    ],
    ids=["empty", "text", "png", "truncated-tail", "truncated-head", "garbage-between-markers"],
)
def test_decode_jpeg_refuses_what_is_not_a_whole_jpeg(data):
    with pytest.raises(InvalidImage):
        decode_jpeg(data)


def test_decode_jpeg_refuses_pictures_over_the_pixel_budget_before_decoding():
    with pytest.raises(InvalidImage, match="too large"):
        decode_jpeg(_jpeg(640, 480), max_pixels=320 * 240)
    assert decode_jpeg(_jpeg(320, 240), max_pixels=320 * 240).shape == (240, 320, 3)


def test_invalid_image_is_a_value_error():
    assert issubclass(InvalidImage, ValueError)


# --- faces: 0 / 1 / 2+ -------------------------------------------------------------------


@pytest.mark.parametrize("thorough", [False, True], ids=["cascade", "thorough"])
def test_face_count_precision_and_recall(face_count_samples, confusion, thorough):
    # The cascade as analyse_frame runs it, and every pass on every frame.
    if thorough:
        pairs = [(s.label, min(len(detect_faces(s.image, thorough=True)), 2)) for s in face_count_samples]
    else:
        pairs = [(s.label, min(analyse_frame(s.image).face_count, 2)) for s in face_count_samples]
    title = "thorough: every pass on every frame" if thorough else "cascade, as analyse_frame runs it"
    c = confusion(f"face count (0 = FACE_ABSENCE, 2 = MULTIPLE_FACE), {title}", [0, 1, 2], pairs)
    for cls in (0, 1, 2):
        assert sum(1 for t, _ in pairs if t == cls) >= 40
        assert c.precision(cls) >= MIN_SCORE, cls
        assert c.recall(cls) >= MIN_SCORE, cls


def test_detect_faces_returns_boxes_inside_the_frame_largest_first(face_count_samples):
    many = [s for s in face_count_samples if s.label == 2][:10]
    for s in many:
        faces = detect_faces(s.image)
        h, w = s.image.shape[:2]
        assert all(isinstance(f, FaceBox) and 0 < f.score <= 1 for f in faces)
        assert all(-f.w < f.x < w and -f.h < f.y < h for f in faces)
        assert [f.area for f in faces] == sorted((f.area for f in faces), reverse=True)


@pytest.mark.parametrize("thorough", [False, True], ids=["cascade", "thorough"])
def test_full_range_false_positives_on_objects_are_rejected(face_count_samples, thorough):
    # Whole photos at full resolution on which the bare full-range detector fires.
    for name in ("apple.jpg", "chessboard.png"):
        img = material.doc_image(name)
        assert detect_faces(img, thorough=thorough) == []


class _Calls:
    """Counts the calls to each mediapipe graph."""

    def __init__(self, monkeypatch):
        self.counts = {"full": 0, "short": 0, "mesh": 0}
        for name, model in (("full", frames._FULL), ("short", frames._SHORT), ("mesh", frames._MESH)):
            monkeypatch.setattr(model, "run", self._counting(name, model.run))

    def _counting(self, name, run):
        def counted(*args):
            self.counts[name] += 1
            return run(*args)

        return counted


def test_a_frontal_face_costs_the_whole_frame_two_tiles_and_one_look_at_the_eyes(monkeypatch):
    img = material.compose(["astronaut"], (320, 240), np.random.default_rng(1))
    assert detect_faces(img)[0].score >= FrameSensitivity().sure_face_confidence
    calls = _Calls(monkeypatch)
    obs = analyse_frame(img)
    assert obs.face_count == 1 and not obs.looking_away and obs.eyes_yaw is not None
    assert calls.counts == {"full": 3, "short": 0, "mesh": 1}
    # Without the gaze check, head pose needs no face mesh on a frontal face.
    calls.counts.update(full=0, short=0, mesh=0)
    assert not analyse_frame(img, sensitivity=FrameSensitivity(eyes_check=False)).looking_away
    assert calls.counts == {"full": 3, "short": 0, "mesh": 0}


def test_short_range_and_face_mesh_run_only_when_needed(monkeypatch, face_count_samples):
    calls = _Calls(monkeypatch)
    # No face from full range: the short-range look over the whole frame.
    empty = next(s.image for s in face_count_samples if s.label == 0)
    assert analyse_frame(empty).face_count == 0
    assert calls.counts == {"full": 3, "short": 1, "mesh": 0}
    # Two people, each found surely by full range: no short-range look at all.
    calls.counts.update(full=0, short=0, mesh=0)
    two = material.compose(["astronaut", "man_a"], (320, 240), np.random.default_rng(4))
    assert analyse_frame(two).face_count == 2
    assert calls.counts["full"] == 3 and calls.counts["short"] <= 1
    # A head turned well away: face mesh confirms the keypoint estimate.
    calls.counts.update(full=0, short=0, mesh=0)
    away = material.compose(["cameraman"], (320, 240), np.random.default_rng(1))
    assert analyse_frame(away).looking_away
    assert calls.counts["mesh"] == 1


def test_a_small_face_behind_the_candidate_is_found_in_the_tiles():
    # A second face ~32 px wide over the candidate's shoulder, JPEG at the
    # widget's quality: full range on the whole 320x240 frame (seen by the
    # model at 0.6 of its size) loses it.
    rng = np.random.default_rng(2)
    canvas = material._plain_wall((320, 240), rng)
    material._paste(canvas, material.portrait("lena"), 270, 20, 70)
    material._paste(canvas, material.portrait("astronaut"), 140, 40, 200)
    frame = material.jpeg_roundtrip(canvas, quality=40)
    faces = detect_faces(frame)
    assert len(faces) == 2 and min(f.w for f in faces) >= 24
    bare = [d for d in frames.raw_full_range_detections(frame) if d.score[0] >= 0.5]
    assert len(bare) == 1


def test_a_second_face_right_beside_the_candidate_is_not_merged_into_theirs():
    # Someone leaning in right beside the candidate: the boxes overlap little (IoU <= 0.3), but
    # the candidate's box's centre is inside the other's, which alone made them one face. The
    # nose tips are far apart: two faces, as the bare call also counts.
    canvas = material._plain_wall((320, 240), np.random.default_rng(2))
    material._paste(canvas, material.portrait("glasses"), 90, 10, 180)
    material._paste(canvas, material.portrait("astronaut"), 140, 50, 130)
    frame = material.jpeg_roundtrip(canvas, quality=60)
    faces = detect_faces(frame)
    assert len(faces) == 2 and min(f.w for f in faces) >= 24
    big, small = faces
    assert frames._iou(big, small) <= 0.3 and frames._same_face(small, big)
    (bx, by), (sx, sy) = big.keypoints[2], small.keypoints[2]
    assert np.hypot(bx - sx, by - sy) >= frames.NOSE_APART * small.w
    assert analyse_frame(frame).face_count == 2
    bare = [d for d in frames.raw_full_range_detections(frame) if d.score[0] >= 0.5]
    assert len(bare) == 2


def test_a_small_box_inside_a_face_is_part_of_it_whatever_its_nose():
    # Full range also finds half a face (an eye and the glasses) inside the whole one, with its
    # "nose" elsewhere: a box wholly inside another is that face (the tune half's one face
    # counted two by the nose rule alone, under a hand over the mouth).
    face = FaceBox(131, 56, 110, 110, 0.76, keypoints=((164, 89), (208, 91), (187, 114)))
    part = FaceBox(188, 66, 53, 53, 0.61, keypoints=((204, 83), (225, 82), (222, 92)))
    assert frames._one_face(part, face) and frames._one_face(face, part)
    beside = replace(part, x=200, keypoints=((216, 83), (237, 82), (234, 92)))  # sticks out
    assert not frames._one_face(beside, face)
    # Without keypoints (a box built by hand) the centre inside is enough, as before.
    assert frames._one_face(replace(beside, keypoints=()), face)


def _recoverable(who: str, cast: tuple[float, float, float], height: float, cx: float, top: float):
    canvas = material._plain_wall((320, 240), np.random.default_rng(0))
    material._paste(canvas, material.portrait(who), cx, top, height)
    lit = np.clip(canvas.astype(np.float32) * np.array(cast, np.float32), 0, 255).astype(np.uint8)
    return material.jpeg_roundtrip(lit, quality=60)


@pytest.mark.parametrize(
    "frame_args",
    [
        ("cameraman", (1.3, 1.0, 0.7), 360, 150, -10),  # a colour cast: a head half turned
        ("glasses", (1.8, 1.8, 1.8), 400, 130, -30),  # over-exposed, HOG's box out of the frame
    ],
    ids=["colour-cast", "bright-close"],
)
def test_a_face_the_cascade_misses_is_recovered_by_hog_and_short_range(monkeypatch, frame_args):
    frame = _recoverable(*frame_args)
    h, w = frame.shape[:2]
    faces = detect_faces(frame)
    assert len(faces) == 1 and analyse_frame(frame).face_count == 1
    face = faces[0]
    # As short range saw it on the crop: its score, its keypoints, inside the frame.
    assert face.score >= FrameSensitivity().verify_confidence and len(face.keypoints) == 6
    assert -face.w < face.x < w and -face.h < face.y < h
    # The recovery look found it: without it, the cascade sees nothing.
    monkeypatch.setattr(frames, "_recovered", lambda *args: [])
    assert detect_faces(frame) == []


def test_a_hog_box_short_range_does_not_confirm_leaves_the_view_empty():
    # HOG fires on a painting's swirl; short range sees no face on a crop around it.
    img = cv2.resize(dict(material.scenes())["starry_night.jpg"], (320, 240), interpolation=cv2.INTER_AREA)
    assert len(frames._HOG.run(img)) == 1
    assert detect_faces(img) == [] and analyse_frame(img).face_count == 0


def test_the_recovery_look_runs_only_when_the_cascade_finds_no_face(monkeypatch):
    ran = []
    real = frames._HOG.run
    monkeypatch.setattr(frames._HOG, "run", lambda *args: ran.append(1) or real(*args))
    assert len(detect_faces(material.compose(["astronaut"], (320, 240), np.random.default_rng(1)))) == 1
    assert ran == []
    assert detect_faces(np.full((240, 320, 3), 128, np.uint8)) == []
    assert ran == [1]


def test_analyse_frame_gives_a_covered_view_no_recovery_look(monkeypatch):
    ran = []
    real = frames._HOG.run
    monkeypatch.setattr(frames._HOG, "run", lambda *args: ran.append(1) or real(*args))
    grey, black = np.full((240, 320, 3), 128, np.uint8), np.full((240, 320, 3), 5, np.uint8)
    for covered, reason in ((grey, "uniform"), (black, "dark")):
        obs = analyse_frame(covered)
        assert obs.blocked and obs.blocked_reason == reason and obs.face_count == 0
    assert ran == []
    # An empty view the camera sees (HOG fires on the painting; short range does not confirm).
    painting = cv2.resize(
        dict(material.scenes())["starry_night.jpg"], (320, 240), interpolation=cv2.INTER_AREA
    )
    obs = analyse_frame(painting)
    assert not obs.blocked and obs.face_count == 0
    assert ran == [1]


# --- blocked camera ---------------------------------------------------------------


def test_camera_blocked_precision_and_recall(blocked_samples, confusion):
    pairs = [(s.label, camera_blocked(s.image).blocked) for s in blocked_samples]
    c = confusion("camera blocked (dark, hand, paper, uniform, defocused)", [True, False], pairs)
    for cls in (True, False):
        assert sum(1 for t, _ in pairs if t == cls) >= 40
        assert c.precision(cls) >= MIN_SCORE and c.recall(cls) >= MIN_SCORE, cls


def test_camera_blocked_reports_its_reason_and_metrics():
    black = np.full((240, 320, 3), 3, np.uint8)
    grey = np.full((240, 320, 3), 128, np.uint8)
    assert camera_blocked(black).reason == "dark"
    info = camera_blocked(grey)
    assert info.blocked and info.reason == "uniform"
    assert info.brightness == pytest.approx(128, abs=1) and info.contrast < 1 and info.detail < 1


# --- head pose --------------------------------------------------------------------------
# No honest material with graded head turns ships in a package, so: frontal
# faces read near 0, mirroring flips the sign of yaw, and the one real
# sideways head (the cameraman, ~50°) is "looking away" against five people
# facing the lens.


@pytest.mark.parametrize("name", ["astronaut", "glasses"])
def test_frontal_faces_have_small_yaw(photo, name):
    img = photo(name)
    pose = head_pose(img, detect_faces(img)[0])
    assert pose is not None and abs(pose.yaw) < 8


@pytest.mark.parametrize("name", ["cameraman", "lena", "man_a", "man_b"])
def test_mirroring_flips_the_sign_of_yaw(portrait, name):
    img = portrait(name)
    pose = head_pose(img)
    mirrored = head_pose(np.ascontiguousarray(img[:, ::-1]))
    assert pose is not None and mirrored is not None
    assert abs(pose.yaw) > 10
    assert np.sign(pose.yaw) == -np.sign(mirrored.yaw)
    assert abs(pose.yaw + mirrored.yaw) < 6
    assert abs(pose.pitch - mirrored.pitch) < 6


def test_yaw_is_positive_when_the_face_points_to_the_image_right(portrait):
    # The cameraman looks through a camera on the right-hand side of the photo.
    assert head_pose(portrait("cameraman")).yaw > 35


@pytest.mark.parametrize("name", ["astronaut", "glasses"])
def test_keypoint_pose_of_frontal_faces_is_small(photo, name):
    pose = keypoint_pose(detect_faces(photo(name))[0])
    assert pose is not None and abs(pose.yaw) < 8 and abs(pose.pitch) < 15


@pytest.mark.parametrize("name", ["cameraman", "lena", "man_a", "man_b"])
def test_keypoint_pose_flips_with_mirroring(portrait, name):
    img = portrait(name)
    pose = keypoint_pose(detect_faces(img)[0])
    mirrored = keypoint_pose(detect_faces(np.ascontiguousarray(img[:, ::-1]))[0])
    assert pose is not None and mirrored is not None
    assert np.sign(pose.yaw) == -np.sign(mirrored.yaw) == np.sign(head_pose(img).yaw)


def test_keypoint_pose_never_hides_a_turned_head_from_face_mesh(looking_away_samples, face_count_samples):
    # analyse_frame skips face mesh when the keypoint estimate is under the
    # limits by the margin; that must never happen to a face mesh calls away.
    s = FrameSensitivity()
    yaw_gate = s.max_yaw_deg - s.pose_confirm_margin_deg
    pitch_gate = s.max_pitch_deg - s.pose_confirm_margin_deg
    errors, checked = [], 0
    for sample in [*looking_away_samples, *(f for f in face_count_samples if f.label == 1)]:
        faces = detect_faces(sample.image)
        cheap, mesh = keypoint_pose(faces[0]), head_pose(sample.image, faces[0])
        if mesh is None:
            continue
        checked += 1
        errors.append(abs(cheap.yaw - mesh.yaw))
        if abs(mesh.yaw) > s.max_yaw_deg or abs(mesh.pitch) > s.max_pitch_deg:
            assert abs(cheap.yaw) >= yaw_gate or abs(cheap.pitch) >= pitch_gate, sample.name
    assert checked >= 100 and np.median(errors) < 8


def test_looking_away_precision_and_recall(looking_away_samples, confusion):
    pairs = []
    for s in looking_away_samples:
        obs = analyse_frame(s.image)
        pairs.append((s.label, obs.looking_away))
    c = confusion("looking away (|yaw| > 35°; positives: one real person)", [True, False], pairs)
    for cls in (True, False):
        assert c.precision(cls) >= MIN_SCORE and c.recall(cls) >= MIN_SCORE, cls


# --- one frame ------------------------------------------------------------------


def test_analyse_frame_on_a_person():
    img = material.compose(["astronaut"], (320, 240), np.random.default_rng(1))
    obs = analyse_frame(img, sensitivity=FrameSensitivity())
    assert isinstance(obs, FrameObservation)
    assert obs.face_count == 1 and len(obs.faces) == 1
    assert obs.yaw is not None and abs(obs.yaw) < 10 and not obs.looking_away
    assert not obs.blocked and obs.blocked_reason is None and obs.brightness > 30


def test_analyse_frame_on_a_covered_camera_still_reports_faces_but_is_blocked():
    obs = analyse_frame(np.full((240, 320, 3), 5, np.uint8))
    assert obs.blocked and obs.blocked_reason == "dark" and obs.face_count == 0 and obs.yaw is None


def test_sensitivity_is_applied():
    img = material.compose(["astronaut"], (320, 240), np.random.default_rng(2))
    strict = FrameSensitivity(max_yaw_deg=0.0, max_pitch_deg=0.0)
    assert analyse_frame(img, sensitivity=strict).looking_away
    dark = np.full((240, 320, 3), 60, np.uint8)
    assert analyse_frame(dark, sensitivity=FrameSensitivity(dark_threshold=80)).blocked_reason == "dark"


def test_a_head_the_keypoints_see_level_is_not_turned_by_face_mesh_alone(monkeypatch):
    # Face mesh runs on a face of 40 px or more for the eyes; a cup or a hand over the mouth tips
    # its whole fit by ~9° of pitch (the tune half's clean sessions) while the detector's
    # keypoints stay put. Its pose decides looking away only where the keypoints come near the
    # limits, as on a face too small for the eyes.
    img = material.portrait(material.PEOPLE[0])
    face = detect_faces(img)[0]
    s = FrameSensitivity()
    cheap = keypoint_pose(face)
    assert face.w >= s.eyes_min_face_px
    assert abs(cheap.yaw) < s.max_yaw_deg - s.pose_confirm_margin_deg
    assert abs(cheap.pitch) < s.max_pitch_deg - s.pose_confirm_margin_deg
    tipped = frames.HeadPose(yaw=cheap.yaw, pitch=s.max_pitch_deg + 5)
    monkeypatch.setattr(frames, "_mesh_pose", lambda crop, scale, result: tipped)
    obs = analyse_frame(img)
    assert obs.pitch == tipped.pitch and not obs.looking_away
    # Where the keypoints come near a limit, face mesh's reading decides.
    near = FrameSensitivity(max_pitch_deg=abs(cheap.pitch) + s.pose_confirm_margin_deg - 1)
    tipped = frames.HeadPose(yaw=cheap.yaw, pitch=near.max_pitch_deg + 5)
    assert analyse_frame(img, sensitivity=near).looking_away
