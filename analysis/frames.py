"""Per-frame analysis of webcam JPEGs: decoding, faces, head pose, blocked camera.

Face detection runs mediapipe's full-range detector (it finds the small and
several faces that the short-range one misses on a wide frame) and, for faces
close to the camera that full range misses, the short-range one on the whole
frame; it then confirms each candidate by running the short-range detector on
an enlarged crop around it. Full range at full resolution also fires on apples, chessboards and other
round or regular patterns; those candidates do not survive the second look,
while real faces, cropped to fill the short-range model's view, score high.

Head pose: ``yaw`` > 0 when the face points towards the image's right-hand side
(the candidate's left in a non-mirrored frame), ``pitch`` > 0 when it points
up. Both in degrees, 0 for a face looking into the camera. Mirroring the frame
flips the sign of ``yaw``.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np


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


def decode_jpeg(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a JPEG into an RGB uint8 array (H, W, 3)."""
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
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape[0] != height or bgr.shape[1] != width:
        raise InvalidImage("corrupt JPEG")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# --- mediapipe models, one per process ---------------------------------------


class _PerProcess:
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

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=False, min_detection_confidence=0.3
    )


_FULL = _PerProcess(_full_range)
_SHORT = _PerProcess(_short_range)
_MESH = _PerProcess(_face_mesh)


def raw_full_range_detections(rgb: np.ndarray) -> list[Any]:
    """The bare mediapipe full-range call (what ``bench/detectors.py`` compares against)."""
    result = _FULL.run(_contiguous(rgb))
    return list(result.detections or [])


# --- faces ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaceBox:
    x: int
    y: int
    w: int
    h: int
    score: float

    @property
    def area(self) -> int:
        return self.w * self.h


VERIFY_CROP_SIZE = 160
VERIFY_CONTEXT = 2.0  # crop side / face side: the face fills half the short-range view


def _contiguous(rgb: np.ndarray) -> np.ndarray:
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


def _confirmed(rgb: np.ndarray, box: FaceBox, min_score: float) -> float | None:
    """Short-range score of a face at the crop centre, or None."""
    side = max(box.w, box.h) * VERIFY_CONTEXT
    crop, _, _, side_i = _square_crop(rgb, box.x + box.w / 2, box.y + box.h / 2, side)
    interp = cv2.INTER_AREA if side_i > VERIFY_CROP_SIZE else cv2.INTER_LINEAR
    crop = cv2.resize(crop, (VERIFY_CROP_SIZE, VERIFY_CROP_SIZE), interpolation=interp)
    result = _SHORT.run(crop)
    best: float | None = None
    for det in result.detections or []:
        score = float(det.score[0])
        b = det.location_data.relative_bounding_box
        cx, cy = b.xmin + b.width / 2, b.ymin + b.height / 2
        # The same face: centred in the crop, about half its size.
        if abs(cx - 0.5) < 0.2 and abs(cy - 0.5) < 0.2 and 0.25 < b.width < 0.9 and score >= min_score:
            best = score if best is None else max(best, score)
    return best


def _iou(a: FaceBox, b: FaceBox) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union else 0.0


def detect_faces(
    rgb: np.ndarray,
    *,
    min_confidence: float = 0.5,
    verify_confidence: float = 0.75,
    min_face_px: int = 14,
    min_relative_size: float = 0.04,
) -> list[FaceBox]:
    """Faces in an RGB frame, largest first.

    ``min_confidence`` gates the full-range detector, ``verify_confidence`` the
    short-range second look; faces narrower than ``min_face_px`` pixels or than
    ``min_relative_size`` of the frame's shorter side are ignored (too small to
    be someone at the desk, and where false positives live).
    """
    rgb = _contiguous(rgb)
    h, w = rgb.shape[:2]
    min_side = max(min_face_px, min_relative_size * min(h, w))
    candidates: list[FaceBox] = []
    # Full range misses faces that fill half the frame (someone close to the
    # webcam); the short-range model sees exactly those.
    detections = raw_full_range_detections(rgb) + list(_SHORT.run(rgb).detections or [])
    for det in detections:
        score = float(det.score[0])
        if score < min_confidence:
            continue
        b = det.location_data.relative_bounding_box
        box = FaceBox(
            x=int(round(b.xmin * w)),
            y=int(round(b.ymin * h)),
            w=int(round(b.width * w)),
            h=int(round(b.height * h)),
            score=score,
        )
        if min(box.w, box.h) < min_side:
            continue
        candidates.append(box)
    faces: list[FaceBox] = []
    for box in sorted(candidates, key=lambda b: (-b.score, b.x, b.y)):
        if any(_iou(box, kept) > 0.3 for kept in faces):
            continue
        if _confirmed(rgb, box, verify_confidence) is not None:
            faces.append(box)
    faces.sort(key=lambda b: (-b.area, b.x, b.y))
    return faces


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
    rgb = _contiguous(rgb)
    if box is None:
        faces = detect_faces(rgb)
        if not faces:
            return None
        box = faces[0]
    # Face mesh's landmark projection is only right on a square view.
    crop, _, _, side = _square_crop(rgb, box.x + box.w / 2, box.y + box.h / 2, max(box.w, box.h) * 2.0)
    if side < 192:  # and it wants a face of a decent size in that view
        crop = cv2.resize(crop, (192, 192), interpolation=cv2.INTER_LINEAR)
    result = _MESH.run(crop)
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


# --- blocked camera ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockedInfo:
    blocked: bool
    reason: str | None  # "dark" | "uniform" | None
    brightness: float  # mean luma, 0..255
    contrast: float  # luma standard deviation
    detail: float  # mean |Laplacian| of a denoised, downscaled luma


def camera_blocked(
    rgb: np.ndarray,
    *,
    dark_threshold: float = 28.0,
    min_contrast: float = 12.0,
    min_detail: float = 10.0,
) -> BlockedInfo:
    """Is the camera covered, in the dark or looking at a featureless surface?

    A hand or a sheet of paper on the lens gives a bright but smooth frame, so
    brightness alone is not enough; sensor noise would pass an edge test, hence
    the blur and downscale before measuring detail.
    """
    rgb = _contiguous(rgb)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    # Averaging down to 80x60 cancels most sensor noise but keeps real edges.
    small = cv2.resize(gray, (80, 60), interpolation=cv2.INTER_AREA).astype(np.float32)
    brightness = float(small.mean())
    contrast = float(small.std())
    detail = float(np.abs(cv2.Laplacian(small, cv2.CV_32F, ksize=3)).mean())
    reason: str | None = None
    if brightness < dark_threshold:
        reason = "dark"
    elif contrast < min_contrast or detail < min_detail:
        reason = "uniform"
    return BlockedInfo(
        blocked=reason is not None,
        reason=reason,
        brightness=round(brightness, 2),
        contrast=round(contrast, 2),
        detail=round(detail, 3),
    )


# --- one frame -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FrameSensitivity:
    min_face_confidence: float = 0.5
    verify_confidence: float = 0.75
    min_face_px: int = 14
    min_relative_face_size: float = 0.04
    max_yaw_deg: float = 35.0
    max_pitch_deg: float = 25.0
    dark_threshold: float = 28.0
    min_contrast: float = 12.0
    min_detail: float = 10.0


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


def analyse_frame(rgb: np.ndarray, *, sensitivity: FrameSensitivity | None = None) -> FrameObservation:
    s = sensitivity or FrameSensitivity()
    blocked = camera_blocked(
        rgb, dark_threshold=s.dark_threshold, min_contrast=s.min_contrast, min_detail=s.min_detail
    )
    faces = detect_faces(
        rgb,
        min_confidence=s.min_face_confidence,
        verify_confidence=s.verify_confidence,
        min_face_px=s.min_face_px,
        min_relative_size=s.min_relative_face_size,
    )
    yaw = pitch = None
    looking_away = False
    if faces:
        pose = head_pose(rgb, faces[0])
        if pose is not None:
            yaw, pitch = pose.yaw, pose.pitch
            looking_away = abs(yaw) > s.max_yaw_deg or abs(pitch) > s.max_pitch_deg
    return FrameObservation(
        face_count=len(faces),
        faces=tuple(faces),
        yaw=yaw,
        pitch=pitch,
        looking_away=looking_away,
        blocked=blocked.blocked,
        blocked_reason=blocked.reason,
        brightness=blocked.brightness,
    )
