"""The photo-ID check (AutoProctor's idCardVerification): the cost of one try.

One try finds the card in a 640x480 frame, looks for the printed face in the card's enlarged
crop and computes its dlib descriptor (``analysis.idcard.check_card``), on the browser tests'
scene of the candidate holding up their photo ID (``tests/browser/media_support.card_scene``).
The baseline, measured in the same run on the same frame, is one bare ``face_descriptor`` of
the live face (what every identity check of a snapshot costs).

    .venv/bin/python bench/idcard.py [--tries 20]

Prints CPU milliseconds per try, per baseline call, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.idcard import check_card, live_descriptor  # noqa: E402
from analysis.identity import face_descriptor  # noqa: E402
from tests.analysis import material  # noqa: E402
from tests.browser import media_support  # noqa: E402


def _cpu_ms(work, runs: int) -> float:
    work()  # models loaded, caches warm
    start = time.process_time()
    for _ in range(runs):
        work()
    return (time.process_time() - start) * 1000 / runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    frame = material.jpeg_roundtrip(media_support.card_scene("astronaut"), 85)
    live = live_descriptor(material.jpeg_roundtrip(media_support.scene(1), 85))
    result = check_card(frame, live)
    assert result.passed, result
    check = _cpu_ms(lambda: check_card(frame, live), args.tries)
    baseline = _cpu_ms(lambda: face_descriptor(frame), args.tries)
    print(f"photo-ID try (find card + printed face + descriptor): {check:.0f} ms CPU")
    print(f"baseline, one face_descriptor of the same frame:      {baseline:.0f} ms CPU")
    print(
        f"ratio: {check / baseline:.2f}x the baseline (distance {result.distance:.2f}, {args.tries} runs each)"
    )


if __name__ == "__main__":
    main()
