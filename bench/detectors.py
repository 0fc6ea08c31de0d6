"""Frames per second of ``analyse_frame`` against the bare mediapipe full-range
call, on the same 320x240 frames (0, 1 and 2-3 people), one core, same run.

    .venv/bin/python bench/detectors.py [--frames N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # per core: one Celery prefork worker
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "analysis")]

import material  # noqa: E402
import numpy as np  # noqa: E402

from analysis.frames import analyse_frame, raw_full_range_detections  # noqa: E402


def _frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        k = i % 3
        if k == 0:
            out.append(material.jpeg_roundtrip(material.background((320, 240), rng)))
        else:
            people = list(rng.choice(material.PEOPLE, size=k, replace=False))
            out.append(material.compose(people, (320, 240), rng))
    return out


def _rate(fn, frames: list[np.ndarray], rounds: int) -> float:
    for f in frames[:10]:
        fn(f)  # warm-up: graph start, XNNPACK set-up
    start = time.perf_counter()
    for _ in range(rounds):
        for f in frames:
            fn(f)
    return rounds * len(frames) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    frames = _frames(args.frames)
    bare = _rate(raw_full_range_detections, frames, args.rounds)
    full = _rate(analyse_frame, frames, args.rounds)
    print(f"{len(frames)} frames of 320x240 (0, 1 and 2-3 people) x {args.rounds} rounds, one core")
    print(f"  mediapipe full-range only : {bare:8.1f} frames/s  ({1000 / bare:6.2f} ms/frame)")
    print(f"  analyse_frame             : {full:8.1f} frames/s  ({1000 / full:6.2f} ms/frame)")
    print(f"  analyse_frame / bare      : {bare / full:8.2f}x the time")


if __name__ == "__main__":
    main()
