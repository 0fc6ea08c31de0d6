"""What the per-frame analysis costs against the bare mediapipe full-range call,
on the same 320x240 frames, one core, same run.

    taskset -c 0 .venv/bin/python bench/detectors.py [--rounds N]

Two sets of frames, both built from the test material (``tests/analysis``):

* a webcam stream (``material.webcam_stream``): ten minutes of one candidate
  at the desk at 1 frame/s, every frame with sensor noise, exposure flicker,
  JPEG compression and a slight sway of the head; the mix is in
  ``material.STREAM_PLAN`` (still 71 %, moving 12 %, looking away 5 %,
  absent 5 %, two people 4 %, camera covered 3 %);
* stills: every frame a different scene with 0, 1 or 2-3 people, the worst
  case for ``analyse_stream`` (nothing to reuse) and for the cascade.

Timings are CPU time of this process (``time.process_time``), so they count
every thread mediapipe starts. Figures are given as ratios to the bare call
measured in the same run; "CPU-s per candidate-hour" is ms/frame x 3.6, at
1 frame/s. Decoding the JPEG is not in any of them (it is shown apart).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # per core: one Celery prefork worker
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "analysis")]

import material  # noqa: E402
import numpy as np  # noqa: E402

from analysis import frames  # noqa: E402
from analysis.frames import analyse_frame, decode_jpeg, raw_full_range_detections  # noqa: E402

analyse_stream = getattr(frames, "analyse_stream", None)  # absent before the cascade


def _stills(n: int) -> list[np.ndarray]:
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


def _per_frame(fn):
    def run(images):
        for f in images:
            fn(f)

    return run


def _stream(images):
    analyse_stream(images, state=None)


def _cpu_ms(runs: dict, images: list[np.ndarray], rounds: int) -> dict[str, float]:
    """CPU ms per frame of each run over all of ``images``, rounds interleaved."""
    for run in runs.values():
        run(images[:10])  # warm-up: graph start, XNNPACK set-up
    spent = dict.fromkeys(runs, 0.0)
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.process_time()
            run(images)
            spent[name] += time.process_time() - start
    return {name: 1000 * t / (rounds * len(images)) for name, t in spent.items()}


class _Counting:
    def __init__(self, model):
        self.model, self.calls = model, 0
        self._run = model.run

    def __enter__(self):
        def run(*args):
            self.calls += 1
            return self._run(*args)

        self.model.run = run
        return self

    def __exit__(self, *exc):
        del self.model.run


def _passes(fn, images) -> str:
    """Detector and face-mesh calls per frame (not timed)."""
    with _Counting(frames._FULL) as full, _Counting(frames._SHORT) as short, _Counting(frames._MESH) as mesh:
        fn(images)
    n = len(images)
    return (
        f"full range {full.calls / n:.2f}, short range {short.calls / n:.2f}, face mesh {mesh.calls / n:.2f}"
    )


def _table(title: str, images: list[np.ndarray], rounds: int) -> None:
    runs = {
        "bare full-range call": _per_frame(raw_full_range_detections),
        "analyse_frame": _per_frame(analyse_frame),
    }
    if analyse_stream is not None:
        runs["analyse_stream"] = _stream
    ms = _cpu_ms(runs, images, rounds)
    bare = ms["bare full-range call"]
    print(f"\n{title}: {len(images)} frames of 320x240 x {rounds} rounds, one core, CPU time")
    print(f"  {'':22s} {'ms/frame':>9s} {'x bare':>7s} {'CPU-s per candidate-hour':>25s}")
    for name, v in ms.items():
        print(f"  {name:22s} {v:9.2f} {v / bare:7.2f} {v * 3.6:25.1f}")
    for name, run in runs.items():
        if name != "bare full-range call":
            print(f"  passes per frame, {name}: {_passes(run, images)}")


def _key(obs) -> tuple[int, bool]:
    return min(obs.face_count, 2), obs.looking_away


def _agreement(stream: list[material.StreamFrame]) -> None:
    """Per segment: frames analysed in full by the stream, frames where it
    disagrees with analyse_frame, frames where it disagrees with the truth."""
    if analyse_stream is None:
        return
    analyser = frames.FrameAnalyser()
    seen: Counter = Counter()
    analysed: Counter = Counter()
    differ: Counter = Counter()
    wrong: Counter = Counter()
    wrong_single = 0
    for s in stream:
        before = analyser.analysed
        streamed = analyser.analyse(s.image)
        single = analyse_frame(s.image)
        truth = (s.face_count, s.looking_away if s.face_count == 1 else False)
        seen[s.segment] += 1
        analysed[s.segment] += analyser.analysed - before
        differ[s.segment] += _key(streamed) != _key(single)
        wrong[s.segment] += (_key(streamed)[0], _key(streamed)[1] and s.face_count == 1) != truth
        wrong_single += (_key(single)[0], _key(single)[1] and s.face_count == 1) != truth
    state = analyser.state
    print(f"\nanalyse_stream on the webcam stream (its state: {len(json.dumps(state))} characters of JSON)")
    print(
        f"  {'segment':8s} {'frames':>7s} {'analysed':>9s} {'differ from analyse_frame':>26s} {'wrong':>6s}"
    )
    for seg in material.STREAM_SEGMENTS:
        print(f"  {seg:8s} {seen[seg]:7d} {analysed[seg]:9d} {differ[seg]:26d} {wrong[seg]:6d}")
    total = sum(seen.values())
    print(
        f"  {'all':8s} {total:7d} {sum(analysed.values()):9d} {sum(differ.values()):26d} {sum(wrong.values()):6d}"
    )
    print(f"  analyse_frame alone: {wrong_single} of {total} frames wrong (face count 0/1/2+, looking away)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stills", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    stream = material.webcam_stream()
    images = [s.image for s in stream]
    jpegs = [material.jpeg_bytes(f) for f in images[:100]]
    start = time.process_time()
    for data in jpegs:
        decode_jpeg(data)
    decode_ms = 1000 * (time.process_time() - start) / len(jpegs)
    _table("webcam stream (material.STREAM_PLAN)", images, args.rounds)
    _table("stills, each a different scene (0, 1, 2-3 people)", _stills(args.stills), args.rounds)
    print(f"\ndecode_jpeg, for reference: {decode_ms:.2f} ms/frame")
    _agreement(stream)


if __name__ == "__main__":
    main()
