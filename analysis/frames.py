"""Per-frame analysis of webcam JPEGs: decoding, faces, head pose, blocked camera.

Face detection (``detect_faces``) looks three times and merges what it sees:
mediapipe's full-range detector on the whole frame, the same detector on two
tiles across the top of the frame (where the faces of people behind the
candidate are, too small for full range on the whole frame), and — when
neither is sure of any face — the short-range detector on the whole frame,
which sees the faces close to the camera that full range misses. A face only
one look found, with a middling score, is confirmed by short range on an
enlarged crop around it: full range also fires on apples, chessboards and
other round or regular patterns, which do not survive that. When all that
finds no face, dlib's HOG detector looks once more (not on a view the blocked
check calls covered), and what it finds counts only where short range confirms
it (``_recovered``). The design and its thresholds were chosen on the tune
half of the evaluation corpus (``make eval``, docs/accuracy.md).

Head pose: ``yaw`` > 0 when the face points towards the image's right-hand side
(the candidate's left in a non-mirrored frame), ``pitch`` > 0 when it points
up. Both in degrees, 0 for a face looking into the camera. Mirroring the frame
flips the sign of ``yaw``. ``analyse_frame`` first reads the pose off the
detector's six keypoints (``keypoint_pose``) and runs face mesh
(``head_pose``) only when that cheap estimate comes within a margin of the
looking-away limits, so a frontal face never pays for face mesh.

For a stream of frames from one webcam, ``FrameAnalyser`` / ``analyse_stream``
skip detection on a frame that is nearly identical to the last analysed one
and reuse its faces and pose (the blocked-camera check still runs on every
frame), and give a frame that changed only around a steady single face a
tracked look (one full-range call on a square around that face) instead of
the whole cascade, and judge the eyes from the candidate's own centre (the
median of their recent readings) rather than from straight ahead; their state
is a small JSON-able dict.
"""

from __future__ import annotations

import base64
import math
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from analysis.gaze import EyesReading, read_eyes


class InvalidImage(ValueError):
    pass


DEFAULT_MAX_PIXELS = 4096 * 4096
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Width and height from the SOF segment, read before any pixel is decoded."""
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise InvalidImage("malformed JPEG marker stream")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2:
            raise InvalidImage("malformed JPEG segment length")
        if marker in _SOF_MARKERS:
            if i + 9 > n:
                break
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        if marker == 0xDA:  # start of scan before any frame header
            break
        i += 2 + length
    raise InvalidImage("JPEG has no frame header")


def jpeg_check(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """The structural checks, without decoding: whole JPEG, frame header, size. Returns (w, h)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidImage("expected bytes")
    data = bytes(data)
    if len(data) < 4 or not data.startswith(b"\xff\xd8\xff"):
        raise InvalidImage("not a JPEG (no SOI marker)")
    # cv2 decodes many truncated files into a half-grey picture: insist on EOI.
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise InvalidImage("truncated JPEG (no EOI marker)")
    width, height = _jpeg_size(data)
    if width <= 0 or height <= 0:
        raise InvalidImage("JPEG has an empty frame")
    if width * height > max_pixels:
        raise InvalidImage(f"JPEG too large: {width}x{height} > {max_pixels} pixels")
    return width, height


def decode_jpeg(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a JPEG into an RGB uint8 array (H, W, 3)."""
    width, height = jpeg_check(data, max_pixels=max_pixels)
    data = bytes(data)
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape[0] != height or bgr.shape[1] != width:
        raise InvalidImage("corrupt JPEG")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def decode_jpeg_reduced(
    data: bytes, least: tuple[int, int], *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode a JPEG into RGB at a half, a quarter or an eighth of its size, the smallest that
    is still at least ``least`` (width, height); at full size when even a half is smaller.
    libjpeg scales in the DCT, so a half-size decode costs about half a full one."""
    width, height = jpeg_check(data, max_pixels=max_pixels)
    for factor, flag in (
        (8, cv2.IMREAD_REDUCED_COLOR_8),
        (4, cv2.IMREAD_REDUCED_COLOR_4),
        (2, cv2.IMREAD_REDUCED_COLOR_2),
    ):
        if width // factor >= least[0] and height // factor >= least[1]:
            bgr = cv2.imdecode(np.frombuffer(bytes(data), dtype=np.uint8), flag)
            if bgr is None:
                raise InvalidImage("corrupt JPEG")
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return decode_jpeg(data, max_pixels=max_pixels)


# --- mediapipe models, one per process ---------------------------------------


class PerProcess:
    """A lazily built object, rebuilt in a forked child (mediapipe graphs do not
    survive fork), with a lock because mediapipe graphs are not re-entrant."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._pid: int | None = None
        self._obj: Any = None
        self.lock = threading.Lock()

    def get(self) -> Any:
        pid = os.getpid()
        if self._pid != pid:
            # A lock inherited through fork may be held by a thread that no longer exists.
            self.lock = threading.Lock()
            self._obj = self._factory()
            self._pid = pid
        return self._obj

    def run(self, *args: Any) -> Any:
        obj = self.get()
        with self.lock:
            return obj.process(*args)


def _full_range() -> Any:
    import mediapipe as mp

    # The per-call threshold is applied afterwards; keep the graph's low.
    return mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.3)


def _short_range() -> Any:
    import mediapipe as mp

    return mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.3)


def _face_mesh() -> Any:
    import mediapipe as mp

    # Refined landmarks: the iris points for the gaze check (analysis/gaze.py), at no extra cost.
    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
    )


_FULL = PerProcess(_full_range)
_SHORT = PerProcess(_short_range)
_MESH = PerProcess(_face_mesh)


def raw_full_range_detections(rgb: np.ndarray) -> list[Any]:
    """The bare mediapipe full-range call (what ``bench/detectors.py`` compares against)."""
    result = _FULL.run(contiguous(rgb))
    return list(result.detections or [])


# --- faces ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaceBox:
    x: int
    y: int
    w: int
    h: int
    score: float
    # The detector's six keypoints in pixels, (x, y) each: right eye, left eye,
    # nose tip, mouth centre, right ear tragion, left ear tragion (the
    # person's right and left). Empty for a box built by hand.
    keypoints: tuple[tuple[float, float], ...] = field(default=(), compare=False, repr=False)

    @property
    def area(self) -> int:
        return self.w * self.h


VERIFY_CROP_SIZE = 160
VERIFY_CONTEXT = 2.0  # crop side / face side: the face fills half the short-range view


def contiguous(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InvalidImage(f"expected an RGB uint8 image, got {rgb.dtype} {rgb.shape}")
    return np.ascontiguousarray(rgb)


def _square_crop(rgb: np.ndarray, cx: float, cy: float, side: float) -> tuple[np.ndarray, int, int, int]:
    """A square crop centred on (cx, cy), padded with black outside the frame."""
    side_i = max(int(round(side)), 8)
    x0 = int(round(cx - side_i / 2))
    y0 = int(round(cy - side_i / 2))
    h, w = rgb.shape[:2]
    out = np.zeros((side_i, side_i, 3), dtype=np.uint8)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side_i, w), min(y0 + side_i, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    return out, x0, y0, side_i


def _confirming(rgb: np.ndarray, box: FaceBox, min_score: float) -> FaceBox | None:
    """Short range's best face at the centre of an enlarged crop around ``box``, scoring at
    least ``min_score``, as a box (with keypoints) in the frame; None if it sees none there."""
    side = max(box.w, box.h) * VERIFY_CONTEXT
    crop, x0, y0, side_i = _square_crop(rgb, box.x + box.w / 2, box.y + box.h / 2, side)
    interp = cv2.INTER_AREA if side_i > VERIFY_CROP_SIZE else cv2.INTER_LINEAR
    crop = cv2.resize(crop, (VERIFY_CROP_SIZE, VERIFY_CROP_SIZE), interpolation=interp)
    result = _SHORT.run(crop)
    best: FaceBox | None = None
    for det in result.detections or []:
        score = float(det.score[0])
        b = det.location_data.relative_bounding_box
        cx, cy = b.xmin + b.width / 2, b.ymin + b.height / 2
        # The same face: centred in the crop, about half its size.
        centred = abs(cx - 0.5) < 0.2 and abs(cy - 0.5) < 0.2 and 0.25 < b.width < 0.9
        if centred and score >= min_score and (best is None or score > best.score):
            best = _candidates([det], side_i, side_i, min_score, 0, (x0, y0))[0]
    return best


def _confirmed(rgb: np.ndarray, box: FaceBox, min_score: float) -> float | None:
    """Short-range score of a face at the crop centre, or None."""
    found = _confirming(rgb, box, min_score)
    return None if found is None else found.score


def _iou(a: FaceBox, b: FaceBox) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union else 0.0


def _candidates(
    detections: list[Any],
    w: int,
    h: int,
    min_confidence: float,
    min_side: float,
    offset: tuple[int, int] = (0, 0),
) -> list[FaceBox]:
    """Detections over the score and size floors, as boxes, best first. ``w`` x ``h``
    is the image the detector saw, placed at ``offset`` in the frame."""
    ox, oy = offset
    boxes = []
    for det in detections:
        score = float(det.score[0])
        if score < min_confidence:
            continue
        b = det.location_data.relative_bounding_box
        box = FaceBox(
            x=int(round(ox + b.xmin * w)),
            y=int(round(oy + b.ymin * h)),
            w=int(round(b.width * w)),
            h=int(round(b.height * h)),
            score=score,
            keypoints=tuple((ox + k.x * w, oy + k.y * h) for k in det.location_data.relative_keypoints),
        )
        if min(box.w, box.h) < min_side:
            continue
        boxes.append(box)
    return sorted(boxes, key=lambda b: (-b.score, b.x, b.y))


# Two square tiles across the top of the frame, each this fraction of its width
# (176 px on a 320x240 frame). mediapipe shrinks whatever it is given to 192x192,
# so a whole 320x240 frame is seen at 0.6 of its size and a 24-px face behind
# the candidate at ~14 px, where full range loses it; in a tile it is seen at
# 1.1. Faces are in the upper part of a webcam's view; a face low in the frame
# is close to the camera, large, and found on the whole frame.
TILE_FRACTION = 0.55


def _tiles(w: int, h: int) -> list[tuple[int, int, int]]:
    side = int(round(min(h, w * TILE_FRACTION)))
    if side >= w:
        return []
    return [(0, 0, side), (w - side, 0, side)]


def _same_face(a: FaceBox, b: FaceBox) -> bool:
    cx, cy = a.x + a.w / 2, a.y + a.h / 2
    return _iou(a, b) > 0.3 or (b.x <= cx <= b.x + b.w and b.y <= cy <= b.y + b.h)


# Two boxes that overlap little (IoU <= 0.3) but with one's centre inside the other are one
# face only if their nose tips are closer than this share of the narrower box's width: a
# face right behind the candidate's, its box's centre inside the candidate's, has its nose
# elsewhere. Chosen on the tune half.
NOSE_APART = 0.35


def _within(a: FaceBox, b: FaceBox) -> bool:
    """Is box ``a`` inside box ``b``, to within a tenth of ``a``'s width?"""
    m = 0.1 * a.w
    return b.x - m <= a.x and a.x + a.w <= b.x + b.w + m and b.y - m <= a.y and a.y + a.h <= b.y + b.h + m


def _one_face(a: FaceBox, b: FaceBox) -> bool:
    """Are two looks' boxes the same face (``detect_faces``' merge)? ``_same_face`` either
    way round, and where that rests on a centre inside the other box alone, the nose tips
    (keypoint 2) closer than ``NOSE_APART`` of the narrower width (boxes without keypoints:
    the centre suffices)."""
    if _iou(a, b) > 0.3:
        return True
    if not (_same_face(a, b) or _same_face(b, a)):
        return False
    if len(a.keypoints) < 3 or len(b.keypoints) < 3 or _within(a, b) or _within(b, a):
        return True
    (ax, ay), (bx, by) = a.keypoints[2], b.keypoints[2]
    return math.hypot(ax - bx, ay - by) < NOSE_APART * min(a.w, b.w)


# The recovery look when the cascade finds no face: dlib's HOG frontal face detector on the
# whole frame, upsampled once (faces from ~40 px down to ~20 px) with its threshold lowered
# by 0.2, each box kept only if short range confirms a face on a crop around it
# (``_confirming``). HOG sees some frontal faces in low light, blur and JPEG blocking that
# mediapipe misses; it fires on patterns too, which the confirmation removes.
HOG_UPSAMPLE = 1
HOG_ADJUST_THRESHOLD = -0.2


class _Hog:
    def __init__(self) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()

    def process(self, rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
        rects, _, _ = self._detector.run(rgb, HOG_UPSAMPLE, HOG_ADJUST_THRESHOLD)
        return [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]


_HOG = PerProcess(_Hog)


def _recovered(rgb: np.ndarray, min_side: float, verify_confidence: float) -> list[FaceBox]:
    """Faces for a frame the cascade found none in: HOG's boxes (``_HOG``), clipped to the
    frame, that short range confirms at ``verify_confidence``, as short range saw them."""
    h, w = rgb.shape[:2]
    faces: list[FaceBox] = []
    for left, top, right, bottom in _HOG.run(rgb):
        x0, y0, x1, y1 = max(left, 0), max(top, 0), min(right + 1, w), min(bottom + 1, h)
        if min(x1 - x0, y1 - y0) < min_side:
            continue
        box = FaceBox(x=x0, y=y0, w=x1 - x0, h=y1 - y0, score=0.0)
        found = _confirming(rgb, box, verify_confidence)
        if found is not None and not any(_one_face(found, f) for f in faces):
            faces.append(found)
    return faces


def detect_faces(
    rgb: np.ndarray,
    *,
    min_confidence: float = 0.5,
    verify_confidence: float = 0.6,
    min_face_px: int = 14,
    min_relative_size: float = 0.04,
    sure_confidence: float = 0.8,
    tile_confidence: float = 0.5,
    verify_below: float = 0.7,
    thorough: bool = False,
    recover: bool = True,
) -> list[FaceBox]:
    """Faces in an RGB frame, largest first.

    Three looks, merged (the same face seen twice is kept once, at its best
    score): full range on the whole frame; full range on two tiles across the
    top of the frame (``TILE_FRACTION``), where small faces behind the
    candidate are seen at almost twice the size; and, when neither is sure of
    any face (``sure_confidence``), short range on the whole frame for the
    faces close to the camera that full range misses, taken only when it is
    sure. A face that only one look found, scoring under ``verify_below``,
    gets a second look: short range on an enlarged crop around it at
    ``verify_confidence`` (full range also fires on apples, chessboards and
    other round or regular patterns, which do not survive it). A small box
    right beside a larger face, at its height and not sure, is that face's
    ear, not a second face. Two looks' boxes are one face when they overlap
    (IoU over 0.3), or when one's centre is inside the other and their nose
    tips are closer than ``NOSE_APART`` of the narrower width or one box is
    inside the other (``_one_face``): someone right behind the candidate is
    a second face. When none of this finds a face, HOG's boxes that short
    range confirms at ``verify_confidence`` are the faces (``_recovered``),
    unless ``recover`` is false (``analyse_frame`` on a view the blocked
    check calls covered: HOG costs about seven full-range calls, and on the
    tune half it recovered no face on such a view).

    ``min_confidence`` and ``tile_confidence`` gate the full-range looks;
    faces narrower than ``min_face_px`` pixels or than ``min_relative_size``
    of the frame's shorter side are ignored. ``thorough`` runs short range on
    every frame. The thresholds were chosen on the tune half of the
    evaluation corpus (``eval/``); its report half is only scored.
    """
    rgb = contiguous(rgb)
    h, w = rgb.shape[:2]
    min_side = max(min_face_px, min_relative_size * min(h, w))

    looks: list[list[FaceBox]] = [_candidates(raw_full_range_detections(rgb), w, h, min_confidence, min_side)]
    for x0, y0, side in _tiles(w, h):
        tile = np.ascontiguousarray(rgb[y0 : y0 + side, x0 : x0 + side])
        found = list(_FULL.run(tile).detections or [])
        looks.append(_candidates(found, side, side, tile_confidence, min_side, (x0, y0)))
    if thorough or not any(b.score >= sure_confidence for look in looks for b in look):
        near = list(_SHORT.run(rgb).detections or [])
        looks.append(_candidates(near, w, h, sure_confidence, min_side))

    merged: list[tuple[FaceBox, int]] = []  # best box of each face, how many looks saw it
    for box in sorted((b for look in looks for b in look), key=lambda b: (-b.score, b.x, b.y)):
        for i, (kept, seen) in enumerate(merged):
            if _one_face(box, kept):
                merged[i] = (kept, seen + 1)
                break
        else:
            merged.append((box, 1))
    faces = [
        box
        for box, seen in merged
        if seen > 1 or box.score >= verify_below or _confirmed(rgb, box, verify_confidence) is not None
    ]
    faces = [f for f in faces if f.score >= sure_confidence or not any(_ear_of(f, g) for g in faces)]
    if not faces and recover:
        faces = _recovered(rgb, min_side, verify_confidence)
    faces.sort(key=lambda b: (-b.area, b.x, b.y))
    return faces


def _ear_of(f: FaceBox, g: FaceBox) -> bool:
    """Is ``f`` a small box right beside the larger face ``g``, at its height (an ear)?"""
    if f is g or f.w > 0.45 * g.w:
        return False
    gap = max(g.x - (f.x + f.w), f.x - (g.x + g.w))
    cy = f.y + f.h / 2
    return gap <= 0.15 * g.w and g.y <= cy <= g.y + g.h


# --- head pose -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeadPose:
    yaw: float
    pitch: float


# Face-mesh landmark pairs across the face (image-left point first) and down
# it (top first); averaging several pairs steadies the axes.
_ACROSS = ((33, 263), (133, 362), (61, 291), (234, 454), (127, 356))
_DOWN = ((10, 152), (168, 1), (9, 200))


def _unit_sum(points: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    v = np.zeros(3)
    for a, b in pairs:
        d = points[b] - points[a]
        v += d / (np.linalg.norm(d) + 1e-9)
    return v


def head_pose(rgb: np.ndarray, box: FaceBox | None = None) -> HeadPose | None:
    """Yaw and pitch of the face in ``box`` (or of the largest face), None if none.

    A landmark-geometry estimate: face mesh gives 3D landmarks (x, y in
    pixels, z depth on the x scale); the face's left-right and up-down axes
    come from symmetric landmark pairs, and their cross product is the
    direction the face points in. No generic 3D head model or camera
    intrinsics are needed, so it behaves the same on crops and full frames.
    """
    rgb = contiguous(rgb)
    if box is None:
        faces = detect_faces(rgb)
        if not faces:
            return None
        box = faces[0]
    return _mesh_pose(*_face_mesh_on(rgb, box))


def _face_mesh_on(rgb: np.ndarray, box: FaceBox) -> tuple[np.ndarray, float, Any]:
    """Face mesh on a square crop around ``box``: (the crop, frame pixels per crop pixel, result)."""
    # Face mesh's landmark projection is only right on a square view.
    crop, _, _, side = _square_crop(rgb, box.x + box.w / 2, box.y + box.h / 2, max(box.w, box.h) * 2.0)
    if side < 192:  # and it wants a face of a decent size in that view
        crop = cv2.resize(crop, (192, 192), interpolation=cv2.INTER_LINEAR)
    return crop, side / crop.shape[0], _MESH.run(crop)


def _mesh_pose(crop: np.ndarray, scale: float, result: Any) -> HeadPose | None:
    if not result.multi_face_landmarks:
        return None
    ch, cw = crop.shape[:2]
    pts = np.array([(p.x * cw, p.y * ch, p.z * cw) for p in result.multi_face_landmarks[0].landmark])
    right = _unit_sum(pts, _ACROSS)
    right /= np.linalg.norm(right)
    down = _unit_sum(pts, _DOWN)
    down -= right * down.dot(right)
    down /= np.linalg.norm(down)
    fx, fy, fz = np.cross(down, right)  # camera axes: x right, y down, z away; points at the camera
    yaw = math.degrees(math.atan2(fx, -fz))
    pitch = math.degrees(math.atan2(-fy, math.hypot(fx, fz)))
    return HeadPose(yaw=round(yaw, 2), pitch=round(pitch, 2))


# Keypoint geometry, calibrated against face mesh on the test material
# (six people, frontal to ~55° of yaw, ±18° of pitch): the nose tip sits
# ~0.65 eye distances in front of the eyes, so its sideways offset from the
# eyes' midpoint is 0.65·tan(yaw) eye distances; and it sits ~0.55 of the way
# from the eyes down to the mouth in a level face, less when the face tips up.
_NOSE_DEPTH = 0.65
_NOSE_LEVEL = 0.55
_PITCH_PER_NOSE_DROP = 90.0  # degrees per unit of that fraction


def keypoint_pose(box: FaceBox) -> HeadPose | None:
    """A rough yaw and pitch from the detector's keypoints, None without them.

    Costs nothing beyond the detection; off by ~6° of yaw and ~8° of pitch
    (standard deviation) against ``head_pose``, more on a face in profile,
    so ``analyse_frame`` uses it only to decide whether face mesh is needed.
    """
    if len(box.keypoints) < 4:
        return None
    right_eye, left_eye, nose, mouth = (np.asarray(p, dtype=np.float64) for p in box.keypoints[:4])
    eyes = (right_eye + left_eye) / 2
    across = left_eye - right_eye  # image-left to image-right in an upright face
    eye_dist = float(np.linalg.norm(across))
    if eye_dist < 1e-6:
        return None
    across /= eye_dist
    down = np.array([-across[1], across[0]])
    sideways = float((nose - eyes) @ across) / eye_dist
    mouth_drop = float((mouth - eyes) @ down)
    nose_drop = float((nose - eyes) @ down) / mouth_drop if mouth_drop > 1e-6 else _NOSE_LEVEL
    yaw = math.degrees(math.atan(sideways / _NOSE_DEPTH))
    pitch = -_PITCH_PER_NOSE_DROP * (nose_drop - _NOSE_LEVEL)
    return HeadPose(yaw=round(yaw, 2), pitch=round(max(-90.0, min(90.0, pitch)), 2))


# --- a cup or a hand over the mouth ---------------------------------------------


def _edge_strength(gray: np.ndarray, cx: float, cy: float, w: float, h: float) -> float | None:
    """Mean gradient magnitude (grey levels per pixel) over a ``w`` x ``h`` box centred on
    (cx, cy), None when too little of it is in the frame."""
    fh, fw = gray.shape
    x0, x1 = int(max(round(cx - w / 2), 0)), int(min(round(cx + w / 2), fw))
    y0, y1 = int(max(round(cy - h / 2), 0)), int(min(round(cy + h / 2), fh))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    box = gray[y0:y1, x0:x1].astype(np.float32)
    gx = cv2.Sobel(box, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(box, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.hypot(gx, gy).mean()) / 4


def mouth_detail(rgb: np.ndarray, face: FaceBox) -> float | None:
    """How much detail the mouth shows beside the eyes: the mean edge strength over a box one
    eye distance wide and half of one high around the detector's mouth keypoint, over that
    of a box 1.6 by 0.5 eye distances around the eyes' midpoint. Lips, the line between them
    and the chin's shading make it ~0.7-1.3 on an uncovered face; a cup or a hand held over
    the mouth is smooth (~0.1-0.7, its rim aside). None without keypoints or with the boxes
    out of the frame. Costs two small Sobel passes, and ``analyse_frame`` only asks for it
    when a head pitched past the limit would make the face looking away."""
    if len(face.keypoints) < 4:
        return None
    right_eye, left_eye, _nose, mouth = (np.asarray(p, dtype=np.float64) for p in face.keypoints[:4])
    d = float(np.linalg.norm(left_eye - right_eye))
    if d < 4:
        return None
    eyes = (right_eye + left_eye) / 2
    x0 = int(max(min(eyes[0] - 0.8 * d, mouth[0] - 0.5 * d) - 2, 0))
    y0 = int(max(eyes[1] - 0.25 * d - 2, 0))
    x1 = int(min(max(eyes[0] + 0.8 * d, mouth[0] + 0.5 * d) + 3, rgb.shape[1]))
    y1 = int(min(mouth[1] + 0.25 * d + 3, rgb.shape[0]))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    at_mouth = _edge_strength(gray, mouth[0] - x0, mouth[1] - y0, d, 0.5 * d)
    at_eyes = _edge_strength(gray, eyes[0] - x0, eyes[1] - y0, 1.6 * d, 0.5 * d)
    if at_mouth is None or not at_eyes:
        return None
    return at_mouth / at_eyes


# --- blocked camera ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockedInfo:
    blocked: bool
    reason: str | None  # "dark" | "uniform" | None
    brightness: float  # mean luma, 0..255
    contrast: float  # luma standard deviation
    detail: float  # share of the view's cells with an edge in them (0..1)


def camera_blocked(
    rgb: np.ndarray,
    *,
    dark_threshold: float = 28.0,
    min_contrast: float = 2.0,
    min_detail: float = 0.2,
    black_threshold: float = 8.0,
) -> BlockedInfo:
    """Is the camera covered, in the dark or looking at a featureless surface?

    A hand, a sheet of paper or a finger on the lens leaves a smooth view, bright
    or not, with at most a strip of the room along an edge: what is measured is
    the share of the view (``EDGE_CELLS`` cells of an 80x60 grey copy) holding an
    edge of at least ``EDGE_STRENGTH`` grey levels per pixel. Under ``min_detail``
    of the view with an edge, or a grey-level spread under ``min_contrast``, the
    view is covered ("uniform"; "dark" when its brightness is under
    ``dark_threshold``); under ``black_threshold`` of brightness it is dark
    whatever it shows (a lens cap). A dim room with someone in it keeps its edges
    and is not blocked; ``analyse_frame`` also never calls a view with a face in
    it blocked. Sensor noise and JPEG blocks are a few grey levels: the average
    down to 80x60 and the edge strength keep them out. The thresholds were
    chosen on the tune half of the evaluation corpus (``eval/detectors.py``).
    """
    return _blocked_small(
        _small_gray(contiguous(rgb)),
        dark_threshold=dark_threshold,
        min_contrast=min_contrast,
        min_detail=min_detail,
        black_threshold=black_threshold,
    )


SMALL_SIZE = (80, 60)  # width, height of the grey view the blocked check and the still check use
EDGE_CELLS = (8, 6)  # across, down: cells of 10x10 pixels of the 80x60 view
EDGE_STRENGTH = 10.0  # grey levels per pixel (Sobel, normalised)


def _small_gray(rgb: np.ndarray) -> np.ndarray:
    """Averaging down to 80x60 cancels most sensor noise but keeps real edges."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, SMALL_SIZE, interpolation=cv2.INTER_AREA)


def _edge_share(small: np.ndarray) -> float:
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy) / 4  # the Sobel kernel weighs 4: grey levels per pixel
    (cx, cy), (h, w) = EDGE_CELLS, mag.shape
    cells = mag[: h - h % cy, : w - w % cx].reshape(cy, h // cy, cx, w // cx).max(axis=(1, 3))
    return float((cells >= EDGE_STRENGTH).mean())


def _blocked_small(
    small_gray: np.ndarray,
    *,
    dark_threshold: float,
    min_contrast: float,
    min_detail: float,
    black_threshold: float,
) -> BlockedInfo:
    small = small_gray.astype(np.float32)
    brightness = float(small.mean())
    contrast = float(small.std())
    detail = _edge_share(small)
    reason: str | None = None
    if brightness < black_threshold:
        reason = "dark"
    elif contrast < min_contrast or detail < min_detail:
        reason = "dark" if brightness < dark_threshold else "uniform"
    return BlockedInfo(
        blocked=reason is not None,
        reason=reason,
        brightness=round(brightness, 2),
        contrast=round(contrast, 2),
        detail=round(detail, 3),
    )


# --- one frame -----------------------------------------------------------------


MOUTH_COVERED_BELOW = 0.7
EYES_CENTRE_MAX_DEG = 8.0


@dataclass(frozen=True, slots=True)
class FrameSensitivity:
    min_face_confidence: float = 0.5
    verify_confidence: float = 0.6
    min_face_px: int = 14
    min_relative_face_size: float = 0.04
    max_yaw_deg: float = 35.0
    max_pitch_deg: float = 25.0
    dark_threshold: float = 28.0
    min_contrast: float = 2.0
    min_detail: float = 0.2
    black_threshold: float = 8.0
    # A face scoring this much makes the short-range look unnecessary.
    sure_face_confidence: float = 0.8
    # Full range on the tiles across the top of the frame (small faces behind the candidate).
    tile_face_confidence: float = 0.5
    # A face only one look found, scoring under this, is confirmed on a crop.
    verify_below: float = 0.7
    # Face mesh confirms the pose when the keypoint estimate comes this close
    # to max_yaw_deg / max_pitch_deg (or past them).
    pose_confirm_margin_deg: float = 15.0
    # The gaze check (analysis/gaze.py): looking away when the eyes, read from the iris
    # landmarks, are turned sideways in the head by more than this (the reading, which
    # understates the turn; chosen on the tune half), on a face at least eyes_min_face_px wide.
    # eyes_check 0: head pose only (and no face-mesh call for the eyes).
    max_eyes_yaw_deg: float = 19.0
    eyes_min_face_px: int = 40
    eyes_check: bool = True
    # In a stream (``FrameAnalyser``), the eyes' limit is measured from the candidate's own
    # centre, the median of their recent readings (a resting gaze and the mesh's bias differ per
    # person and camera placement), which may lie at most this far from straight ahead (degrees,
    # as read). Chosen on the tune half: from 6 up, the clean sessions' eyes (the candidates'
    # median readings -13 to +4) come no nearer the limit than 15.6 for 5 s
    # (eval/clean_sessions.py --half tune; 20.6 from straight ahead), and 8 gives the best
    # recall on the tune half's composed looks away judged from each view's own resting reading
    # (99 of 170; 91 from straight ahead); a larger bound only leaves more room to drift the
    # eyes away unflagged (up to it plus max_eyes_yaw_deg). 0: from straight ahead always, as
    # analyse_frame judges a single frame.
    eyes_centre_max_deg: float = EYES_CENTRE_MAX_DEG
    # The lower face covered (a cup, a hand over the mouth: ``mouth_detail`` under this): face
    # mesh, fitting a face whose mouth it cannot see, tips its whole fit up by 5-10° of pitch
    # (the detector's mouth keypoint goes with it), so head pitch does not make such a face
    # looking away; head yaw and the eyes still do. Chosen on the tune half
    # (eval/clean_sessions.py --mouth). 0: pitch counts whatever covers the mouth.
    mouth_covered_below: float = MOUTH_COVERED_BELOW


@dataclass(frozen=True, slots=True)
class FrameObservation:
    face_count: int
    faces: tuple[FaceBox, ...] = ()
    yaw: float | None = None  # of the largest face
    pitch: float | None = None
    looking_away: bool = False
    blocked: bool = False
    blocked_reason: str | None = None
    brightness: float = 0.0
    # Stream only: no face found, but since the last frame with one face the view changed only
    # around that face (a cup, a hand in front of it): the candidate is there, face hidden.
    face_hidden: bool = False
    # The eyes' sideways turn in the head (degrees, > 0 towards the image's right), None when the
    # eyes were not read (too small, too dark, not looked at): analysis/gaze.py.
    eyes_yaw: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able; ``from_dict`` gives back an equal observation."""
        return {
            "face_count": self.face_count,
            "faces": [[f.x, f.y, f.w, f.h, f.score, [list(p) for p in f.keypoints]] for f in self.faces],
            "yaw": self.yaw,
            "pitch": self.pitch,
            "looking_away": self.looking_away,
            "blocked": self.blocked,
            "blocked_reason": self.blocked_reason,
            "brightness": self.brightness,
            "face_hidden": self.face_hidden,
            "eyes_yaw": self.eyes_yaw,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrameObservation:
        faces = tuple(
            FaceBox(
                int(x), int(y), int(w), int(h), float(score), tuple((float(px), float(py)) for px, py in kps)
            )
            for x, y, w, h, score, kps in d["faces"]
        )
        return cls(
            face_count=int(d["face_count"]),
            faces=faces,
            yaw=d["yaw"],
            pitch=d["pitch"],
            looking_away=bool(d["looking_away"]),
            blocked=bool(d["blocked"]),
            blocked_reason=d["blocked_reason"],
            brightness=float(d["brightness"]),
            face_hidden=bool(d.get("face_hidden", False)),
            eyes_yaw=d.get("eyes_yaw"),
        )


def _blocked_seen(small_gray: np.ndarray, s: FrameSensitivity, *, face_in_view: bool) -> BlockedInfo:
    """The blocked check at ``s``'s thresholds; a view with a face in it is never blocked (the
    camera sees the candidate, in a dim room say)."""
    info = _blocked_small(
        small_gray,
        dark_threshold=s.dark_threshold,
        min_contrast=s.min_contrast,
        min_detail=s.min_detail,
        black_threshold=s.black_threshold,
    )
    return replace(info, blocked=False, reason=None) if face_in_view and info.blocked else info


def head_may_turn(face: FaceBox, s: FrameSensitivity, cheap: HeadPose | None = None) -> bool:
    """Does the keypoint estimate of ``face``'s pose come within ``pose_confirm_margin_deg`` of
    the looking-away limits (or is there none)? Only then may head pose make it looking away."""
    cheap = cheap or keypoint_pose(face)
    return cheap is None or not (
        abs(cheap.yaw) < s.max_yaw_deg - s.pose_confirm_margin_deg
        and abs(cheap.pitch) < s.max_pitch_deg - s.pose_confirm_margin_deg
    )


def _pose(
    rgb: np.ndarray, face: FaceBox, s: FrameSensitivity
) -> tuple[HeadPose | None, EyesReading | None, bool]:
    """Head pose, the eyes' reading, and whether the head may be turned past the limits. The
    keypoint estimate of the pose when it is well inside the limits and the eyes are not looked
    at; otherwise one face-mesh call gives both. A head whose keypoint estimate is well inside
    the limits is not turned away, whether face mesh ran for the eyes or not (a face under
    ``eyes_min_face_px`` never gets that far): the same verdict at every face size, and a cup
    or a hand over the mouth, which tips face mesh's whole fit by ~9° of pitch while the
    keypoints stay put, does not make a glance."""
    cheap = keypoint_pose(face)
    near_limit = head_may_turn(face, s, cheap)
    eyes_wanted = bool(s.eyes_check) and face.w >= s.eyes_min_face_px
    if not near_limit and not eyes_wanted:
        return cheap, None, False
    crop, scale, result = _face_mesh_on(rgb, face)
    pose = _mesh_pose(crop, scale, result) or cheap
    return pose, read_eyes(crop, scale, result) if eyes_wanted else None, near_limit


def _head_turned(rgb: np.ndarray, face: FaceBox, pose: HeadPose, may_turn: bool, s: FrameSensitivity) -> bool:
    """Is the head turned past the limits (yaw, or pitch with the mouth in view), ``may_turn``
    being ``head_may_turn``'s answer for ``face``?"""
    if not may_turn:
        return False
    pitched = abs(pose.pitch) > s.max_pitch_deg and not _mouth_covered(rgb, face, s)
    return abs(pose.yaw) > s.max_yaw_deg or pitched


def eyes_away(eyes_yaw: float, s: FrameSensitivity, centre: float = 0.0) -> bool:
    """Are the eyes turned sideways past ``max_eyes_yaw_deg`` from ``centre`` (straight ahead in
    the head for a single frame; a stream's per-candidate centre, ``FrameAnalyser``)?"""
    return abs(eyes_yaw - centre) > s.max_eyes_yaw_deg


def _mouth_covered(rgb: np.ndarray, face: FaceBox, s: FrameSensitivity) -> bool:
    if s.mouth_covered_below <= 0:
        return False
    detail = mouth_detail(rgb, face)
    return detail is not None and detail < s.mouth_covered_below


def analyse_frame(
    rgb: np.ndarray, *, sensitivity: FrameSensitivity | None = None, recover: bool = True
) -> FrameObservation:
    """Faces, pose, eyes and the blocked check of one frame. ``recover`` false: no HOG recovery
    look when the cascade finds no face (``FrameAnalyser`` on an empty view HOG saw unchanged)."""
    s = sensitivity or FrameSensitivity()
    rgb = contiguous(rgb)
    # The blocked check first: a covered view gets no HOG recovery look (``detect_faces``).
    seen = _blocked_seen(_small_gray(rgb), s, face_in_view=False)
    faces = detect_faces(
        rgb,
        min_confidence=s.min_face_confidence,
        verify_confidence=s.verify_confidence,
        min_face_px=s.min_face_px,
        min_relative_size=s.min_relative_face_size,
        sure_confidence=s.sure_face_confidence,
        tile_confidence=s.tile_face_confidence,
        verify_below=s.verify_below,
        recover=recover and not seen.blocked,
    )
    return _observed(rgb, faces, s, seen)


def _observed(
    rgb: np.ndarray, faces: list[FaceBox], s: FrameSensitivity, seen: BlockedInfo | None = None
) -> FrameObservation:
    """What ``analyse_frame`` makes of the faces found in ``rgb``: the blocked check (``seen``,
    the check made without regard to faces, when the caller has it), the head pose and the
    eyes of the largest face (``FrameAnalyser``'s tracked look shares it)."""
    if seen is None:
        seen = _blocked_seen(_small_gray(rgb), s, face_in_view=False)
    blocked = replace(seen, blocked=False, reason=None) if faces and seen.blocked else seen
    yaw = pitch = eyes_yaw = None
    looking_away = False
    if faces:
        pose, eyes, may_turn = _pose(rgb, faces[0], s)
        if pose is not None:
            yaw, pitch = pose.yaw, pose.pitch
            looking_away = _head_turned(rgb, faces[0], pose, may_turn, s)
            if eyes is not None:  # the eyes turned sideways in the head, whatever the head does
                eyes_yaw = eyes.yaw
                looking_away = looking_away or eyes_away(eyes_yaw, s)
    return FrameObservation(
        face_count=len(faces),
        faces=tuple(faces),
        yaw=yaw,
        pitch=pitch,
        looking_away=looking_away,
        eyes_yaw=eyes_yaw,
        blocked=blocked.blocked,
        blocked_reason=blocked.reason,
        brightness=blocked.brightness,
    )


# --- a stream of frames from one webcam ------------------------------------------

THUMB_SIZE = (32, 24)  # width, height of the greyscale thumbnail frames are compared on
THUMB_CELL = 4  # compared in cells of 4x4 thumbnail pixels: 1/8 of the width, 1/6 of the height
STATE_VERSION = 2
# The candidate's eyes centre (``FrameAnalyser.eyes_centre``): the median of the eyes' readings on
# the last EYES_CENTRE_READINGS analysed frames with the candidate alone and not looking away
# (about 50 s of a seated candidate who moves: the tune half's clean sessions analyse ~0.6 of
# the seconds; a candidate who keeps perfectly still is analysed every 20 s), once there are at
# least EYES_CENTRE_MIN_READINGS of them; straight ahead (0) before. Chosen on the tune half's
# clean sessions with the bound (``FrameSensitivity.eyes_centre_max_deg``): 10 rather than 20
# readings, because a candidate whose eyes rest well to one side came within 1° of the limit,
# for 5 s, in the first 25 s of a session while still judged from straight ahead.
EYES_CENTRE_READINGS = 30
EYES_CENTRE_MIN_READINGS = 10


def _thumbnail(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(contiguous(rgb), cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, THUMB_SIZE, interpolation=cv2.INTER_AREA)


STILL_VIEW = (
    160,
    120,
)  # the least size a still check decodes a frame at (an exact 5x5 block per thumbnail pixel)


def decode_gray_reduced(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The JPEG in grey at a half or a quarter of its size (no smaller than ``STILL_VIEW``):
    libjpeg scales in the DCT, so this costs a fraction of a full decode. Enough for the
    still check and the blocked-camera check, not for detection."""
    width, height = jpeg_check(data, max_pixels=max_pixels)
    flag = cv2.IMREAD_GRAYSCALE
    for factor, reduced in ((4, cv2.IMREAD_REDUCED_GRAYSCALE_4), (2, cv2.IMREAD_REDUCED_GRAYSCALE_2)):
        if width // factor >= STILL_VIEW[0] and height // factor >= STILL_VIEW[1]:
            flag = reduced
            break
    gray = cv2.imdecode(np.frombuffer(bytes(data), dtype=np.uint8), flag)
    if gray is None:
        raise InvalidImage("corrupt JPEG")
    return gray


EXPOSURE_GAIN = 0.06  # an overall gain of up to ±6 % (a webcam's exposure hunting) is taken out
EXPOSURE_SHIFT = 4.0  # and then an overall shift of up to ±4 grey levels


def cell_changes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How different two thumbnails are, per cell: the mean absolute grey-level
    difference over each cell, after taking out a small overall gain and
    brightness shift (a webcam's exposure drifting: it scales bright parts
    more than dark ones). A head that leaves or enters changes a few cells a
    lot, which a whole-frame mean would dilute."""
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    da, db = a - a.mean(), b - b.mean()
    var = float((da * da).sum())
    # The least-squares gain of b on a: a few changed cells barely move it.
    gain = float(np.clip((da * db).sum() / var, 1 - EXPOSURE_GAIN, 1 + EXPOSURE_GAIN)) if var > 0 else 1.0
    d = b - a * gain
    d -= float(np.clip(np.median(d), -EXPOSURE_SHIFT, EXPOSURE_SHIFT))
    h, w = d.shape
    c = THUMB_CELL
    return np.abs(d[: h - h % c, : w - w % c]).reshape(h // c, c, w // c, c).mean(axis=(1, 3))


def frame_change(a: np.ndarray, b: np.ndarray) -> float:
    """The largest of ``cell_changes``: how different two thumbnails are."""
    return float(cell_changes(a, b).max())


HIDDEN_MAX_SECONDS = 30.0  # a face hidden longer than this is absent (frames without times: 30 analysed)


def change_confined(
    a: np.ndarray, b: np.ndarray, box: FaceBox, shape: tuple[int, int], threshold: float
) -> bool:
    """Did the view change (by ``threshold`` or more) only over the face in ``box`` (a
    frame of ``shape``: height, width): every changed cell's centre within a quarter of
    a face to either side of it, from its top to three quarters of a face below it (a cup,
    a hand on the chin)? Someone leaving also changes their hair above the face and their
    shoulders beside it."""
    cells = cell_changes(a, b)
    height, width = shape
    cell_w, cell_h = width / cells.shape[1], height / cells.shape[0]
    x0, x1 = box.x - 0.25 * box.w, box.x + 1.25 * box.w
    y0, y1 = box.y, box.y + 1.75 * box.h
    for row, col in zip(*np.nonzero(cells >= threshold), strict=True):
        cx, cy = (col + 0.5) * cell_w, (row + 0.5) * cell_h
        if not (x0 <= cx <= x1 and y0 <= cy <= y1):
            return False
    return True


# The tracked look (``FrameAnalyser``): full range once, on a square around the last face this
# many face sides wide, instead of the whole cascade (three full-range calls and the second
# looks). A 100-px face's square is ~200 px, seen by the detector at about the tiles' scale.
TRACK_CONTEXT = 2.0
# The whole cascade again after this many analysed frames in a row were tracked looks, or once
# the last whole look is ``max_still_seconds`` old (frames with capture times): a face the
# tracked look could not see (the view outside its square changed too little for the still
# check, or the cascade missed it then) waits no longer for the whole cascade than a still
# view waits to be analysed again.
TRACK_WIDE_EVERY = 4
# HOG's recovery look on an empty view (``FrameAnalyser``): it costs about seven full-range calls,
# and on a view that has not changed since it last found nothing there it would see the same.
# So a whole look at an empty view gets it only when the view changed since HOG's last look
# (``frame_change`` at the still threshold), a face was in view since, or that look is this old
# (seconds; three of the 20-s refreshes of a still view).
HOG_AGAIN_SECONDS = 60.0


def track_square(box: FaceBox, shape: tuple[int, int]) -> tuple[int, int, int]:
    """The tracked look's square (x0, y0, side) in a frame of ``shape`` (height, width): centred
    on the region ``change_confined`` watches (a quarter of a face to either side, from the top
    of the face to three quarters of one below it), ``TRACK_CONTEXT`` face sides wide, moved
    inside the frame and no larger than its shorter side."""
    height, width = shape
    side = int(round(min(max(box.w, box.h) * TRACK_CONTEXT, height, width)))
    cx, cy = box.x + box.w / 2, box.y + 0.875 * box.h
    x0 = int(round(min(max(cx - side / 2, 0), width - side)))
    y0 = int(round(min(max(cy - side / 2, 0), height - side)))
    return x0, y0, side


def changed_within(
    a: np.ndarray, b: np.ndarray, square: tuple[int, int, int], shape: tuple[int, int], threshold: float
) -> bool:
    """Did the view change (``cell_changes`` by ``threshold`` or more) only inside ``square``
    (x0, y0, side in a frame of ``shape``): every changed cell's centre in it?"""
    cells = cell_changes(a, b)
    height, width = shape
    cell_w, cell_h = width / cells.shape[1], height / cells.shape[0]
    x0, y0, side = square
    for row, col in zip(*np.nonzero(cells >= threshold), strict=True):
        cx, cy = (col + 0.5) * cell_w, (row + 0.5) * cell_h
        if not (x0 <= cx <= x0 + side and y0 <= cy <= y0 + side):
            return False
    return True


def tracked_face(rgb: np.ndarray, last: FaceBox, s: FrameSensitivity) -> FaceBox | None:
    """The one face in the tracked look's square around ``last`` (``track_square``), or None
    when that look is not sure: no face, more than one, or one under ``verify_below``
    or not where ``last`` was. None sends the frame to the whole cascade."""
    rgb = contiguous(rgb)
    h, w = rgb.shape[:2]
    x0, y0, side = track_square(last, (h, w))
    crop = np.ascontiguousarray(rgb[y0 : y0 + side, x0 : x0 + side])
    min_side = max(s.min_face_px, s.min_relative_face_size * min(h, w))
    found = _candidates(
        list(_FULL.run(crop).detections or []), side, side, s.min_face_confidence, min_side, (x0, y0)
    )
    faces = [f for f in found if f.score >= s.sure_face_confidence or not any(_ear_of(f, g) for g in found)]
    if len(faces) != 1 or faces[0].score < s.verify_below:
        return None
    face = faces[0]
    return face if _same_face(face, last) or _same_face(last, face) else None


def _verdict(obs: FrameObservation) -> tuple[int, bool]:
    return obs.face_count, obs.looking_away


class FrameAnalyser:
    """``analyse_frame`` for consecutive frames of one webcam, skipping detection
    on a frame nearly identical to the last one analysed.

    A frame whose thumbnail differs from that of the last fully analysed frame
    by less than ``still_threshold`` (``frame_change``) gets that frame's
    faces and pose again, with its own blocked-camera check and brightness;
    then one is analysed regardless: after ``max_reused`` frames in a row, or,
    when frames come with their capture time (``at``, seconds), once the last
    analysed frame is ``max_still_seconds`` old (the widget does not upload
    frames that did not change, so the frames reaching the server are no
    longer one a second). Comparing with the last analysed frame rather than
    the previous one means slow drift adds up until it counts. Nothing is
    reused until two analysed frames in a row agree on the face count and
    looking away, so a detector's miss on the frame where something changed
    is not repeated for the still frames after it. ``state`` (a small
    JSON-able dict) carries all this between calls, e.g. between Celery
    tasks: the same frames in the same order from the same state give the
    same observations.

    A frame that is analysed while the last two analysed frames agreed on one face (scoring
    at least ``verify_below``, not turned away) gets the tracked look when every cell that
    changed since the last whole look (``cell_changes`` at ``still_threshold``) is inside
    the square around that face (``track_square``): full range once on that square
    (``tracked_face``), the same pose, eyes and blocked checks. Anything else the tracked
    look sees (no face, two, a weak one) sends the frame to the whole cascade, as does a
    change outside the square (someone arriving anywhere else), the ``TRACK_WIDE_EVERY``-th
    analysed frame in a row and a whole look ``max_still_seconds`` old.

    On consecutive empty views (frames with capture times), the whole look skips HOG's recovery
    look (``detect_faces``' last) while the view is nearly identical (``still_threshold``) to
    the one HOG last found nothing in, for up to ``HOG_AGAIN_SECONDS``: mediapipe's looks still
    run on every analysed frame, and any change, a face in view or that age sends HOG again.

    ``analyse_jpeg`` takes the uploaded bytes and decodes them in full only
    when the frame is analysed; a reused frame is decoded at a half or a quarter
    of its size, in grey (``decode_gray_reduced``).

    The eyes are judged against the candidate's own centre (``eyes_centre``) rather than
    straight ahead: where a person's eyes rest on the screen, as the iris landmarks read them,
    depends on the person, the mesh's fit of their eyes and where the camera sits beside the
    screen. The centre is the median of the eyes' readings of the last ``EYES_CENTRE_READINGS``
    analysed frames that had the candidate alone and were not looking away (so a look away,
    however long, never moves it, and a glance that stays just under the limit is outvoted),
    clipped to ``eyes_centre_max_deg`` either side of straight ahead (so even a slow drift of the
    eyes away, each step inside the limit, leaves at most that much unflagged); straight ahead
    until ``EYES_CENTRE_MIN_READINGS`` exist. A single frame (``analyse_frame``) is always judged
    from straight ahead. No model runs for it: the readings are those the frames already gave.
    """

    def __init__(
        self,
        *,
        sensitivity: FrameSensitivity | None = None,
        state: dict[str, Any] | None = None,
        still_threshold: float = 10.0,
        max_reused: int = 9,
        max_still_seconds: float = 20.0,
    ) -> None:
        self.sensitivity = sensitivity or FrameSensitivity()
        self.still_threshold = still_threshold
        self.max_reused = max_reused
        self.max_still_seconds = max_still_seconds
        self.analysed = 0  # frames given the whole analysis by this object
        self.reused = 0  # frames given the last analysed frame's faces and pose
        self._ref: np.ndarray | None = None
        self._ref_shape: tuple[int, int] | None = None
        self._ref_obs: FrameObservation | None = None
        self._ref_at: float | None = None
        self._run = 0
        self._steady = False  # the last two analysed frames agreed
        # The last analysed frame with one face: thumbnail, face, shape, capture time.
        self._face_ref: tuple[np.ndarray, FaceBox, tuple[int, int], float | None] | None = None
        self._since_face = 0  # analysed frames since then
        # The last view HOG's recovery look found nothing in: thumbnail, shape, capture time.
        self._hog: tuple[np.ndarray, tuple[int, int], float] | None = None
        self.hog_skipped = 0  # whole looks at an empty view that HOG saw unchanged
        # The last frame given the whole cascade: thumbnail, capture time; tracked looks since.
        self._wide: tuple[np.ndarray, float | None] | None = None
        self._since_wide = 0
        self.tracked = 0  # analysed frames given the tracked look
        # The eyes' recent readings (degrees), oldest first: ``eyes_centre``.
        self._eyes: list[float] = []
        if (
            state
            and state.get("version") == STATE_VERSION
            and state.get("sensitivity") == asdict(self.sensitivity)
        ):
            try:
                thumb = np.frombuffer(base64.b64decode(state["thumb"]), dtype=np.uint8)
                ref = thumb.reshape(THUMB_SIZE[1], THUMB_SIZE[0]).copy()
                shape = (int(state["shape"][0]), int(state["shape"][1]))
                observation = FrameObservation.from_dict(state["observation"])
                run = int(state["reused"])
                steady = bool(state["steady"])
                ref_at = None if state.get("at") is None else float(state["at"])
            except (KeyError, IndexError, TypeError, ValueError):  # a damaged state: start afresh
                pass
            else:
                self._ref, self._ref_shape, self._ref_obs, self._run = ref, shape, observation, run
                self._steady, self._ref_at = steady, ref_at
            try:
                hog = state["hog"]
                hog_thumb = np.frombuffer(base64.b64decode(hog["thumb"]), dtype=np.uint8)
                self._hog = (
                    hog_thumb.reshape(THUMB_SIZE[1], THUMB_SIZE[0]).copy(),
                    (int(hog["shape"][0]), int(hog["shape"][1])),
                    float(hog["at"]),
                )
            except (KeyError, IndexError, TypeError, ValueError):
                self._hog = None
            try:
                face = state["face"]
                face_thumb = np.frombuffer(base64.b64decode(face["thumb"]), dtype=np.uint8)
                self._face_ref = (
                    face_thumb.reshape(THUMB_SIZE[1], THUMB_SIZE[0]).copy(),
                    FaceBox(*(int(v) for v in face["box"]), score=1.0),
                    (int(face["shape"][0]), int(face["shape"][1])),
                    None if face["at"] is None else float(face["at"]),
                )
                self._since_face = int(face["since"])
            except (KeyError, IndexError, TypeError, ValueError):
                self._face_ref, self._since_face = None, 0
            try:
                wide = state["wide"]
                wide_thumb = np.frombuffer(base64.b64decode(wide["thumb"]), dtype=np.uint8)
                self._wide = (
                    wide_thumb.reshape(THUMB_SIZE[1], THUMB_SIZE[0]).copy(),
                    None if wide["at"] is None else float(wide["at"]),
                )
                self._since_wide = int(wide["since"])
            except (KeyError, IndexError, TypeError, ValueError):
                self._wide, self._since_wide = None, 0
            raw = state.get("eyes")
            try:
                readings = [float(v) for v in raw] if isinstance(raw, list) else []
            except (TypeError, ValueError):
                readings = []
            self._eyes = [v for v in readings if math.isfinite(v)][-EYES_CENTRE_READINGS:]

    @property
    def state(self) -> dict[str, Any]:
        if self._ref is None or self._ref_obs is None or self._ref_shape is None:
            return {}
        return {
            "version": STATE_VERSION,
            "sensitivity": asdict(self.sensitivity),
            "shape": list(self._ref_shape),
            "thumb": base64.b64encode(self._ref.tobytes()).decode("ascii"),
            "observation": self._ref_obs.as_dict(),
            "reused": self._run,
            "steady": self._steady,
            "at": self._ref_at,
            "hog": None
            if self._hog is None
            else {
                "thumb": base64.b64encode(self._hog[0].tobytes()).decode("ascii"),
                "shape": list(self._hog[1]),
                "at": self._hog[2],
            },
            "face": None
            if self._face_ref is None
            else {
                "thumb": base64.b64encode(self._face_ref[0].tobytes()).decode("ascii"),
                "box": [self._face_ref[1].x, self._face_ref[1].y, self._face_ref[1].w, self._face_ref[1].h],
                "shape": list(self._face_ref[2]),
                "at": self._face_ref[3],
                "since": self._since_face,
            },
            "wide": None
            if self._wide is None
            else {
                "thumb": base64.b64encode(self._wide[0].tobytes()).decode("ascii"),
                "at": self._wide[1],
                "since": self._since_wide,
            },
            "eyes": list(self._eyes),
        }

    @property
    def eyes_centre(self) -> float:
        """Where this candidate's eyes rest, in degrees as read (> 0 towards the image's right):
        the median of the recent readings clipped to ``eyes_centre_max_deg``, 0 until there
        are ``EYES_CENTRE_MIN_READINGS`` (and with ``eyes_centre_max_deg`` 0)."""
        bound = self.sensitivity.eyes_centre_max_deg
        if bound <= 0 or len(self._eyes) < EYES_CENTRE_MIN_READINGS:
            return 0.0
        return max(-bound, min(bound, float(np.median(self._eyes))))

    def _eyes_judged(self, rgb: np.ndarray, obs: FrameObservation) -> FrameObservation:
        """``obs`` (an analysed frame's) with its eyes judged from ``eyes_centre`` instead of
        straight ahead, its reading then kept when the candidate is alone and not looking away."""
        s = self.sensitivity
        if obs.eyes_yaw is None or not obs.faces or obs.yaw is None or obs.pitch is None:
            return obs
        face = obs.faces[0]
        if eyes_away(obs.eyes_yaw, s):  # the verdict may rest on the eyes: the head's alone
            pose = HeadPose(yaw=obs.yaw, pitch=obs.pitch)
            head = _head_turned(rgb, face, pose, head_may_turn(face, s), s)
        else:
            head = obs.looking_away
        away = head or eyes_away(obs.eyes_yaw, s, self.eyes_centre)
        if obs.face_count == 1 and not away:
            self._eyes = [*self._eyes, float(obs.eyes_yaw)][-EYES_CENTRE_READINGS:]
        return obs if away == obs.looking_away else replace(obs, looking_away=away)

    def _face_recent(self, at: float | None) -> bool:
        """Was the last frame with one face recent enough for a face now missing to be hidden?"""
        if self._face_ref is None:
            return False
        ref_at = self._face_ref[3]
        if at is not None and ref_at is not None:
            return 0 <= at - ref_at <= HIDDEN_MAX_SECONDS
        return self._since_face <= HIDDEN_MAX_SECONDS

    def _reusable(self, thumb: np.ndarray, shape: tuple[int, int], at: float | None) -> bool:
        if self._ref is None or self._ref_obs is None or not self._steady or self._ref_shape != shape:
            return False
        if self._ref_obs.face_hidden and not self._face_recent(at):
            return False  # hidden too long: look again, it may be an absence now
        if at is not None and self._ref_at is not None:
            if not 0 <= at - self._ref_at < self.max_still_seconds:
                return False
        elif self._run >= self.max_reused:
            return False
        return frame_change(self._ref, thumb) < self.still_threshold

    def _reuse(self, small_gray: np.ndarray) -> FrameObservation:
        s = self.sensitivity
        assert self._ref_obs is not None
        # Nearly the same view as one with a face in it: the face is still in view.
        blocked = _blocked_seen(small_gray, s, face_in_view=bool(self._ref_obs.face_count))
        self._run += 1
        self.reused += 1
        return replace(
            self._ref_obs,
            blocked=blocked.blocked,
            blocked_reason=blocked.reason,
            brightness=blocked.brightness,
        )

    def _trackable(self, thumb: np.ndarray, shape: tuple[int, int], at: float | None) -> FaceBox | None:
        """The last face, when this frame may have the tracked look: the last two analysed
        frames agreed on one sure face in view, the last whole look is recent
        (``TRACK_WIDE_EVERY``, ``max_still_seconds``) and since then the view changed only
        inside the tracked look's square, so whatever the cascade saw outside it is still so."""
        ref = self._ref_obs
        if ref is None or self._wide is None or not self._steady or self._ref_shape != shape:
            return None
        if ref.face_count != 1 or ref.face_hidden or ref.blocked or ref.looking_away:
            return None
        last = ref.faces[0]
        if last.score < self.sensitivity.verify_below or self._since_wide + 1 >= TRACK_WIDE_EVERY:
            return None
        wide_thumb, wide_at = self._wide
        if at is not None and wide_at is not None and not 0 <= at - wide_at < self.max_still_seconds:
            return None
        square = track_square(last, shape)
        return last if changed_within(wide_thumb, thumb, square, shape, self.still_threshold) else None

    def _whole_look(self, rgb: np.ndarray, thumb: np.ndarray, at: float | None) -> FrameObservation:
        """``analyse_frame`` on ``rgb``, without HOG's recovery look when the last analysed frame
        was empty too and HOG's last look, at most ``HOG_AGAIN_SECONDS`` ago, found nothing in
        a view nearly identical to this one."""
        shape = (rgb.shape[0], rgb.shape[1])
        hog = self._hog
        unchanged = (
            hog is not None
            and at is not None
            and self._ref_obs is not None
            and self._ref_obs.face_count == 0
            and hog[1] == shape
            and 0 <= at - hog[2] < HOG_AGAIN_SECONDS
            and frame_change(hog[0], thumb) < self.still_threshold
        )
        if unchanged:
            obs = analyse_frame(rgb, sensitivity=self.sensitivity, recover=False)
        else:  # the call as before (stand-ins for analyse_frame in tests take only the sensitivity)
            obs = analyse_frame(rgb, sensitivity=self.sensitivity)
        if obs.face_count:
            self._hog = None  # a face in view: the next empty view gets HOG's look
        elif unchanged:
            self.hog_skipped += 1
        elif not obs.blocked and at is not None:
            self._hog = (thumb, shape, at)  # HOG looked and found nothing
        return obs

    def _analysed(self, rgb: np.ndarray, thumb: np.ndarray, at: float | None) -> FrameObservation:
        shape = (rgb.shape[0], rgb.shape[1])
        last = self._trackable(thumb, shape, at)
        face = None if last is None else tracked_face(rgb, last, self.sensitivity)
        if face is not None:
            obs = _observed(rgb, [face], self.sensitivity)
            self._since_wide += 1
            self.tracked += 1
        else:
            obs = self._whole_look(rgb, thumb, at)
            self._wide, self._since_wide = (thumb, at), 0
        obs = self._eyes_judged(rgb, obs)
        if obs.face_count == 1:
            self._face_ref = (thumb, obs.faces[0], shape, at)
            self._since_face = 0
        elif self._face_ref is not None:
            self._since_face += 1
            ref_thumb, box, ref_shape, _ = self._face_ref
            if (
                obs.face_count == 0
                and not obs.blocked
                and self._face_recent(at)
                and ref_shape == shape
                and change_confined(ref_thumb, thumb, box, shape, self.still_threshold)
            ):
                obs = replace(obs, face_hidden=True)
        self._steady = self._ref_obs is not None and _verdict(self._ref_obs) == _verdict(obs)
        self._ref, self._ref_shape, self._ref_obs, self._run = thumb, (rgb.shape[0], rgb.shape[1]), obs, 0
        self._ref_at = at
        self.analysed += 1
        return obs

    def analyse(self, rgb: np.ndarray, at: float | None = None) -> FrameObservation:
        rgb = contiguous(rgb)
        thumb = _thumbnail(rgb)
        if self._reusable(thumb, (rgb.shape[0], rgb.shape[1]), at):
            return self._reuse(_small_gray(rgb))
        return self._analysed(rgb, thumb, at)

    def analyse_jpeg(self, data: bytes, at: float | None = None) -> FrameObservation:
        """``analyse`` on an uploaded JPEG (``InvalidImage`` if it is not one)."""
        gray = decode_gray_reduced(data)
        thumb = cv2.resize(gray, THUMB_SIZE, interpolation=cv2.INTER_AREA)
        if self._reusable(thumb, jpeg_check(data)[::-1], at):
            return self._reuse(cv2.resize(gray, SMALL_SIZE, interpolation=cv2.INTER_AREA))
        return self._analysed(decode_jpeg(data), thumb, at)


def analyse_stream(
    frames: Iterable[np.ndarray],
    *,
    sensitivity: FrameSensitivity | None = None,
    state: dict[str, Any] | None = None,
) -> tuple[list[FrameObservation], dict[str, Any]]:
    """Consecutive frames of one webcam, in order, with ``FrameAnalyser``; pass the
    returned state with the next batch (``None`` or ``{}`` to start afresh)."""
    analyser = FrameAnalyser(sensitivity=sensitivity, state=state)
    observations = [analyser.analyse(f) for f in frames]
    return observations, analyser.state
