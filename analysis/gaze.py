"""Where the eyes point: iris landmarks, for a gaze off the screen beside head pose.

mediapipe's face mesh with refined landmarks (``refine_landmarks=True``: the
attention model ``face_landmark_with_attention.tflite`` that ships in the
mediapipe wheel) adds ten iris points to the 468 of the face. Each eye's iris
centre is placed between that eye's two corners: half way is straight ahead
in the head, towards a corner is the eye turned that way. The shift, as a
share of the eye's width, becomes an angle through a standard eye (the
opening ~30 mm wide, the eyeball's radius ~12 mm: ``EYE_OPENING_PER_RADIUS``);
the two eyes are averaged, each weighted by its width (the eye on the far side
of a turned head is foreshortened and less sure). The gaze's yaw is the
head's yaw plus the eyes' yaw in the head: a candidate who turns the head but
keeps the eyes on the screen turns the eyes back, and the two cancel.

Only sideways: an eye's up-down position is read against eyelids that move
with it, which the landmarks do not separate well, so looking down (at notes
on the desk) is left to head pitch.

What it cannot see, and what it then says (``eyes_yaw`` returns None: the
head-pose check alone decides):

* eyes too small in the view (an eye narrower than ``MIN_EYE_PX``: a face
  under ~60 px wide in the 320x240 frame, further from the camera than a
  seated candidate);
* eyes in the dark or washed out (too little contrast in the eye region:
  ``MIN_EYE_CONTRAST``): a dim room, backlight;
* glasses' glare or a reflection over the iris: the mesh still places an
  iris, usually near the middle of the eye, so a glance away behind a glare is
  missed (read as looking ahead), never invented.

A single frame (``analyse_frame``) is looking away when the eyes' reading is more than
``FrameSensitivity.max_eyes_yaw_deg`` from straight ahead; in a stream
(``analysis.frames.FrameAnalyser``) it is measured from the candidate's own centre, the
median of their recent readings (at most ``eyes_centre_max_deg`` from straight ahead):
where a person's eyes rest on the screen, as read, differs by several degrees with the
person, the mesh's fit of their eyes and where the camera sits.

It runs once per analysed frame with a face large enough, on a crop around the
face (one face-mesh call, the cost of the head-pose confirmation); a frame the
stream analyser reuses (nearly identical to the last analysed one) reuses its
verdict too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# Face-mesh indices (refined landmarks). The image-left eye (the person's right
# in an unmirrored frame): outer corner 33, inner corner 133, iris centre 468;
# the image-right eye: inner corner 362, outer corner 263, iris centre 473.
# Each pair of corners is listed image-left first.
EYES = ((33, 133, 468), (362, 263, 473))
# Upper and lower eyelid middles of the same eyes (the eye's opening).
LIDS = ((159, 145), (386, 374))
EYE_OPENING_PER_RADIUS = 2.5  # ~30 mm of opening over a ~12 mm eyeball radius
MIN_EYE_PX = 9.0  # eye opening width in the frame's pixels
MIN_EYE_CONTRAST = 14.0  # grey-level standard deviation over the eyes' region


@dataclass(frozen=True, slots=True)
class EyesReading:
    yaw: float  # degrees the eyes are turned in the head, > 0 towards the image's right
    eye_px: float  # the wider eye's opening, in the frame's pixels
    contrast: float  # grey-level standard deviation over the eye region


def eyes_in_head(landmarks: np.ndarray) -> tuple[float, float]:
    """(sideways iris shift as a share of the eye's width, > 0 towards the image's right;
    the width-weighted mean eye width, in the landmarks' units) from 478 mesh points (x, y)."""
    shifts, widths = [], []
    for a, b, iris in EYES:
        pa, pb, pc = landmarks[a, :2], landmarks[b, :2], landmarks[iris, :2]
        axis = pb - pa
        width = float(np.linalg.norm(axis))
        if width < 1e-6:
            continue
        t = float((pc - pa) @ axis) / (width * width)
        shifts.append(t - 0.5)
        widths.append(width)
    if not widths:
        return 0.0, 0.0
    w = np.asarray(widths)
    return float(np.dot(shifts, w) / w.sum()), float(w.max())


def shift_to_degrees(shift: float) -> float:
    """An iris shift (share of the eye's width) as the eye's rotation, in degrees."""
    return math.degrees(math.asin(max(-1.0, min(1.0, shift * EYE_OPENING_PER_RADIUS))))


def _eye_contrast(gray: np.ndarray, landmarks: np.ndarray) -> float:
    """Grey-level spread over a box around both eyes (corners and lids)."""
    idx = [i for eye in EYES for i in eye[:2]] + [i for lid in LIDS for i in lid]
    pts = landmarks[idx, :2]
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    h, w = gray.shape
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1 + 1, w), min(y1 + 1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0
    return float(gray[y0:y1, x0:x1].std())


def read_eyes(crop: np.ndarray, scale: float, mesh_result) -> EyesReading | None:
    """The eyes' reading from a face-mesh result on ``crop`` (RGB), whose pixels are
    ``scale`` frame pixels each. None when there is no face or the eyes are unseen."""
    if not mesh_result.multi_face_landmarks:
        return None
    lms = mesh_result.multi_face_landmarks[0].landmark
    if len(lms) <= max(i for eye in EYES for i in eye):
        return None  # a mesh without refined landmarks
    ch, cw = crop.shape[:2]
    pts = np.array([(p.x * cw, p.y * ch) for p in lms])
    shift, width = eyes_in_head(pts)
    eye_px = width * scale
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    contrast = _eye_contrast(gray, pts)
    if eye_px < MIN_EYE_PX or contrast < MIN_EYE_CONTRAST:
        return None
    return EyesReading(
        yaw=round(shift_to_degrees(shift), 2), eye_px=round(eye_px, 1), contrast=round(contrast, 1)
    )
