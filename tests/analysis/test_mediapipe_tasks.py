"""What the model files inside mediapipe 0.10.21's wheel can do under its Tasks API.

The facts behind the migration plan in docs/operations.md ("mediapipe"): checked
here, so the plan is re-checked whenever mediapipe changes.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import mediapipe as mp
import numpy as np
import pytest
from mediapipe.tasks.python import BaseOptions, vision
from skimage import data

MODULES = Path(mp.__file__).parent / "modules"


@pytest.fixture(scope="module")
def astronaut():
    return np.ascontiguousarray(data.astronaut())


def _tasks_detector(model: str):
    options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_path=str(MODULES / model)))
    return vision.FaceDetector.create_from_options(options)


def test_the_wheels_short_range_model_serves_the_tasks_face_detector_like_the_legacy_one(astronaut):
    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=astronaut)
    with _tasks_detector("face_detection/face_detection_short_range.tflite") as detector:
        (found,) = detector.detect(image).detections
    box = found.bounding_box
    with mp.solutions.face_detection.FaceDetection(model_selection=0) as legacy:
        (old,) = legacy.process(astronaut).detections
    h, w = astronaut.shape[:2]
    rel = old.location_data.relative_bounding_box
    assert abs(box.origin_x - rel.xmin * w) < 6 and abs(box.width - rel.width * w) < 6
    assert abs(box.origin_y - rel.ymin * h) < 6 and abs(box.height - rel.height * h) < 6
    assert found.categories[0].score == pytest.approx(old.score[0], abs=0.02)


def test_the_full_range_model_does_not_fit_the_tasks_face_detector(astronaut):
    # Its anchors (2304 boxes) are not the short-range graph's (896): the detector is created,
    # then refuses the first image.
    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=astronaut)
    detector = _tasks_detector("face_detection/face_detection_full_range_sparse.tflite")
    with pytest.raises(RuntimeError, match="num_boxes"):
        detector.detect(image)
    # (not closed: a graph that failed refuses to close as well)


def test_a_bundle_of_the_wheels_files_serves_the_tasks_face_landmarker(astronaut, tmp_path):
    bundle = tmp_path / "face_landmarker.task"
    with zipfile.ZipFile(bundle, "w") as z:
        z.write(MODULES / "face_detection" / "face_detection_short_range.tflite", "face_detector.tflite")
        z.write(MODULES / "face_landmark" / "face_landmark.tflite", "face_landmarks_detector.tflite")
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(bundle)), num_faces=2
    )
    with vision.FaceLandmarker.create_from_options(options) as landmarker:
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=astronaut))
    (landmarks,) = result.face_landmarks
    assert len(landmarks) == 478
    # Centred on the astronaut's face (the legacy detector's box: x 177–273, y 83–178).
    x = np.mean([p.x for p in landmarks]) * astronaut.shape[1]
    y = np.mean([p.y for p in landmarks]) * astronaut.shape[0]
    assert 177 < x < 273 and 83 < y < 178
