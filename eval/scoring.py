"""Scoring the detectors on the evaluation corpus: confusion tables, per-condition
recall, always beside the bare mediapipe full-range call on the same frames."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis.frames import analyse_frame, raw_full_range_detections

from .corpus import Frame, as_uploaded

BARE_CONFIDENCE = 0.5  # mediapipe's own default min_detection_confidence
CLASSES = (0, 1, 2)
CLASS_NAMES = {0: "no face", 1: "one face", 2: "two or more"}
VERSIONS = ("raw", "as uploaded")


class Confusion:
    """A confusion table with per-class precision and recall."""

    def __init__(self, classes: Sequence[Hashable], pairs: Iterable[tuple[Hashable, Hashable]]):
        self.classes = list(classes)
        pairs = list(pairs)
        self.counts = Counter(pairs)
        self.total = len(pairs)

    def precision(self, c: Hashable) -> float:
        predicted = sum(self.counts[(t, c)] for t in self.classes)
        return self.counts[(c, c)] / predicted if predicted else 0.0

    def recall(self, c: Hashable) -> float:
        actual = sum(self.counts[(c, p)] for p in self.classes)
        return self.counts[(c, c)] / actual if actual else 0.0

    def support(self, c: Hashable) -> int:
        return sum(self.counts[(c, p)] for p in self.classes)


def bare_count(rgb: np.ndarray) -> int:
    """The bare full-range call at mediapipe's default confidence: the baseline."""
    return sum(1 for d in raw_full_range_detections(rgb) if float(d.score[0]) >= BARE_CONFIDENCE)


def product_count(rgb: np.ndarray) -> int:
    return analyse_frame(rgb).face_count


FACE_COUNTERS: dict[str, Callable[[np.ndarray], int]] = {
    "bare full range": bare_count,
    "analyse_frame": product_count,
}


@dataclass
class FaceCountResults:
    frames: list[Frame]
    # (detector, version) -> predicted count per frame, in frame order
    counts: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def confusion(self, detector: str, version: str, *, floor_only: bool = True) -> Confusion:
        pairs = [
            (min(f.faces, 2), min(n, 2))
            for f, n in zip(self.frames, self.counts[(detector, version)], strict=True)
            if f.in_floor or not floor_only
        ]
        return Confusion(CLASSES, pairs)

    def recall_by(
        self, key: Callable[[Frame], str | None], detector: str, version: str
    ) -> dict[str, tuple[int, int]]:
        """Condition -> (frames whose count is right, frames)."""
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for f, n in zip(self.frames, self.counts[(detector, version)], strict=True):
            k = key(f)
            if k is None:
                continue
            out[k][0] += int(min(n, 2) == min(f.faces, 2))
            out[k][1] += 1
        return {k: (v[0], v[1]) for k, v in out.items()}

    def errors(self, detector: str, version: str) -> list[tuple[Frame, int]]:
        return [
            (f, n)
            for f, n in zip(self.frames, self.counts[(detector, version)], strict=True)
            if f.in_floor and min(n, 2) != min(f.faces, 2)
        ]


def score_face_counts(
    frames: Iterable[Frame], counters: dict[str, Callable[[np.ndarray], int]] | None = None
) -> FaceCountResults:
    counters = counters or FACE_COUNTERS
    results = FaceCountResults(frames=[])
    for key in counters:
        for version in VERSIONS:
            results.counts[(key, version)] = []
    for frame in frames:
        results.frames.append(frame)
        images = {"raw": frame.view, "as uploaded": as_uploaded(frame.view)}
        for key, count in counters.items():
            for version, image in images.items():
                t0 = time.process_time()
                results.counts[(key, version)].append(count(image))
                results.cpu[key] += time.process_time() - t0
    return results


# Per-condition breakdowns: a name and how to read the condition off a frame.
BREAKDOWNS: dict[str, Callable[[Frame], str | None]] = {
    "face size (narrowest face in the 320x240 view)": lambda f: f.size_bucket,
    "light, blur, noise, occlusion": lambda f: f.condition if f.in_floor else None,
    "number of people": lambda f: (
        (f"{f.faces} people" if f.faces != 1 else "1 person") if f.in_floor else None
    ),
    "background": lambda f: f.backdrop if f.in_floor else None,
    "hard cases": lambda f: (
        ("someone turned to profile" if f.turned else "someone partly hidden" if f.hidden else None)
        if f.in_floor
        else None
    ),
}
