"""Is this the same person? dlib's 128-d face descriptor (ResNet, LFW 99.38%).

Faces are located with mediapipe (``analysis.frames.detect_faces``) rather than
dlib's HOG detector, which also fires on small round emblems such as the
astronaut's mission patch; the largest face is the candidate's. dlib's
5-point landmark model aligns it before the descriptor is computed.
"""

from __future__ import annotations

import numpy as np

from analysis.frames import FaceBox, PerProcess, contiguous, detect_faces

DEFAULT_THRESHOLD = 0.6  # dlib's own: same person ~0.2-0.4 apart, others ~0.7+


def _shape_predictor() -> object:
    import dlib
    import face_recognition_models

    return dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())


def _encoder() -> object:
    import dlib
    import face_recognition_models

    return dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())


_PREDICTOR = PerProcess(_shape_predictor)
_ENCODER = PerProcess(_encoder)


def _dlib_rect(box: FaceBox, width: int, height: int) -> object:
    import dlib

    # mediapipe's box stops at the brows; dlib's predictor was trained on
    # boxes that reach a little higher, so nudge it up by a tenth.
    shift = int(round(box.h * 0.1))
    left, top = max(box.x, 0), max(box.y - shift, 0)
    right, bottom = min(box.x + box.w, width - 1), min(box.y + box.h - shift, height - 1)
    return dlib.rectangle(left, top, right, bottom)


def face_descriptor(rgb: np.ndarray, box: FaceBox | None = None) -> np.ndarray | None:
    """The 128-d descriptor of the face in ``box``, or of the largest face found."""
    rgb = contiguous(rgb)
    if box is None:
        faces = detect_faces(rgb)
        if not faces:
            return None
        box = faces[0]  # detect_faces sorts largest first
    h, w = rgb.shape[:2]
    rect = _dlib_rect(box, w, h)
    predictor, encoder = _PREDICTOR.get(), _ENCODER.get()
    with _PREDICTOR.lock:
        shape = predictor(rgb, rect)
    with _ENCODER.lock:
        descriptor = encoder.compute_face_descriptor(rgb, shape, 0)
    return np.asarray(descriptor, dtype=np.float64)


def descriptor_distance(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != (128,) or b.shape != (128,):
        raise ValueError("face descriptors are 128-d vectors")
    return float(np.linalg.norm(a - b))


def same_person(a: np.ndarray, b: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> bool:
    return descriptor_distance(a, b) <= threshold
