from __future__ import annotations

import cv2
import numpy as np
import pytest

from analysis.identity import descriptor_distance, face_descriptor, same_person
from tests.analysis import material

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def astronaut(photo):
    return photo("astronaut")


@pytest.fixture(scope="module")
def reference(astronaut):
    d = face_descriptor(astronaut)
    assert d is not None and d.shape == (128,)
    return d


def _variants(img: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(4)
    return {
        "flipped": img[:, ::-1],
        "dimmed": (img * 0.45).astype(np.uint8),
        "resized": cv2.resize(img, (256, 256), interpolation=cv2.INTER_AREA),
        "shifted": np.roll(img, (40, -60), axis=(0, 1)),
        "jpeg-q50": material.jpeg_roundtrip(img, quality=50),
        "webcam-frame": material.compose(["astronaut"], (320, 240), rng),
    }


@pytest.mark.parametrize("variant", list(_variants(np.zeros((8, 8, 3), np.uint8))))
def test_same_person_is_accepted(astronaut, reference, variant):
    img = np.ascontiguousarray(_variants(astronaut)[variant])
    d = face_descriptor(img)
    assert d is not None
    distance = descriptor_distance(reference, d)
    print(f"astronaut {variant}: {distance:.3f}")
    assert distance < 0.4
    assert same_person(reference, d)


@pytest.mark.parametrize("name", ["man_a", "man_b", "lena", "glasses", "cameraman"])
def test_a_different_person_is_rejected(photo, reference, name):
    d = face_descriptor(photo(name))
    assert d is not None
    distance = descriptor_distance(reference, d)
    print(f"astronaut vs {name}: {distance:.3f}")
    assert distance > 0.7
    assert not same_person(reference, d)


def test_two_other_people_are_told_apart(photo):
    a, b = face_descriptor(photo("man_a")), face_descriptor(photo("man_b"))
    assert not same_person(a, b)


def test_the_largest_face_is_the_one_described(astronaut, reference, photo):
    # Astronaut big on the left, someone else small on the right.
    canvas = np.full((480, 640, 3), 200, np.uint8)
    canvas[0:400, 0:400] = cv2.resize(astronaut[0:400, 80:480], (400, 400))
    other = cv2.resize(material.portrait("man_a"), (150, 160))
    canvas[300:460, 470:620] = other
    assert same_person(reference, face_descriptor(canvas))


def test_no_face_gives_none(photo):
    photo("astronaut")
    assert face_descriptor(np.full((240, 320, 3), 90, np.uint8)) is None


def test_threshold_is_configurable(reference):
    near = reference + 0.05
    assert same_person(reference, near)
    assert not same_person(reference, near, threshold=0.1)
    with pytest.raises(ValueError):
        descriptor_distance(reference, reference[:64])
