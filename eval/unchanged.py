"""The widget's "unchanged frame" threshold, chosen on the tune half.

The widget does not send a detection frame whose 32x24 grey thumbnail is
within ``stillThreshold`` (``analysis.frames.frame_change``) of the last
changed frame it sent (static/proctorme/src/capture.js). Two things pull the
threshold in opposite ways, both measured here on tune-half views only:

* camera noise and exposure flicker must not count as change: the same view
  with fresh sensor noise (``noise``);
* someone appearing behind the candidate must count, down to the smallest
  face the product promises to see (``PROMISED_FACE_PX``): a tune-half face
  of 24-40 px pasted into a tune-half view with one person, beside and above
  the candidate (``appearing``). The candidate's own small sway (a pixel or
  two) is printed for information (``sway``): it may go either way.

    .venv/bin/python eval/unchanged.py [--frames 300]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.frames import FrameAnalyser, _thumbnail, frame_change  # noqa: E402
from eval import corpus  # noqa: E402


def widget_threshold() -> float:
    """``stillThreshold`` as the widget's capture source has it."""
    text = (ROOT / "static" / "proctorme" / "src" / "capture.js").read_text()
    m = re.search(r"\bstillThreshold:\s*([0-9.]+)", text)
    if m is None:
        raise RuntimeError("stillThreshold not found in capture.js")
    return float(m.group(1))


def widget_sends(views: Iterable[np.ndarray], threshold: float | None = None, hold_s: int = 2) -> list[bool]:
    """Which of a camera's one-a-second views the widget sends (capture.js
    ``frameUnchanged``): a view that changed since the last changed view sent,
    or any view once ``hold_s`` seconds have passed since the last one sent."""
    return list(widget_sends_iter(views, threshold, hold_s))


def widget_sends_iter(
    views: Iterable[np.ndarray], threshold: float | None = None, hold_s: int = 2
) -> Iterator[bool]:
    """``widget_sends`` one view at a time (a long session need not be held in memory)."""
    threshold = widget_threshold() if threshold is None else threshold
    ref, last = None, None
    for t, view in enumerate(views):
        thumb = _thumbnail(view)
        same = ref is not None and frame_change(ref, thumb) < threshold
        if same and last is not None and t - last < hold_s:
            yield False
            continue
        if not same:
            ref = thumb
        last = t
        yield True


def _noisy(view: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return corpus._sensor(view, rng)


def measure(count: int) -> dict[str, np.ndarray]:
    """Change values per kind of pair, on the first ``count`` tune frames."""
    rng = np.random.default_rng(7)
    small = [corpus.lfw_cutout(i) for i in range(corpus.LFW_FACES) if corpus.lfw_half(i) == "tune"]
    out: dict[str, list[float]] = {"noise": [], "sway": [], "appearing": []}
    w, h = corpus.VIEW
    for frame in corpus.frames("tune", count):
        if frame.condition == "darkness":
            continue
        view = frame.view
        ref = _thumbnail(view)
        out["noise"].append(frame_change(ref, _thumbnail(_noisy(view, rng))))
        shift = tuple(int(v) for v in rng.integers(-2, 3, size=2))
        out["sway"].append(frame_change(ref, _thumbnail(_noisy(np.roll(view, shift, axis=(0, 1)), rng))))
        if frame.faces == 1:
            canvas = view.copy()
            cut = small[int(rng.integers(len(small)))]
            px = float(rng.uniform(corpus.PROMISED_FACE_PX, 40))
            side = rng.choice([-1, 1])
            fx = float(np.clip(w / 2 + side * rng.uniform(w * 0.28, w * 0.42), px, w - px))
            fy = float(rng.uniform(px, h * 0.35))
            corpus._paste(canvas, cut, px, fx, fy, 0.0)
            out["appearing"].append(frame_change(ref, _thumbnail(_noisy(canvas, rng))))
    return {k: np.asarray(v) for k, v in out.items()}


def choose(values: dict[str, np.ndarray]) -> float:
    """The highest whole threshold that still counts 99 % of the appearing faces as change.
    When in doubt the widget sends: the server's own still check decides what is analysed.
    It must leave most noise-only pairs unsent (95 %), or skipping saves nothing."""
    threshold = float(np.floor(np.percentile(values["appearing"], 1)))
    noise = float(np.percentile(values["noise"], 95))
    if threshold <= noise:
        raise RuntimeError(
            f"no threshold separates noise ({noise:.2f}) from a face appearing ({threshold:.2f})"
        )
    return threshold


def lines(values: dict[str, np.ndarray], threshold: float) -> list[str]:
    out = [
        "| pair of frames (tune half) | pairs | median change | 1st / 99th percentile | counted as change |",
        "|---|---|---|---|---|",
    ]
    for kind, v in values.items():
        out.append(
            f"| {kind} | {len(v)} | {np.median(v):.2f} | {np.percentile(v, 1):.2f} / "
            f"{np.percentile(v, 99):.2f} | {np.mean(v >= threshold):.3f} |"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    args = parser.parse_args(argv)
    values = measure(args.frames)
    threshold = choose(values)
    server = FrameAnalyser().still_threshold
    print(
        f"widget threshold chosen on the tune half: {threshold:.0f} (capture.js has {widget_threshold():.0f})"
    )
    print("\n".join(lines(values, threshold)))
    print(f"\nthe server's still check ({server:.0f}) on the same pairs:")
    print("\n".join(lines(values, server)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
