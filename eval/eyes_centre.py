"""The gaze check judged from each candidate's own centre, on the tune half's looking-away views.

    .venv/bin/python eval/eyes_centre.py [--frames 600] [--eyes 150] [--bounds 4,6,8,10,12]

The looking-away table (``eval/detectors.py``) scores single frames, which ``analyse_frame``
judges from straight ahead. In a stream, ``FrameAnalyser`` judges the eyes from the
candidate's own centre (the median of their recent readings, at most
``FrameSensitivity.eyes_centre_max_deg`` from straight ahead). Here every composed view
(``eval/eyes.py``) is composed a second time with the person's eyes not moved (the same
place, size, light, mirror and noise), and that view's reading stands for the centre the
candidate's stream would have learned there. A view is then looking away when head pose says
so or its reading lies more than ``max_eyes_yaw_deg`` from that centre clipped to the bound;
from straight ahead when the resting reading itself is past the limit (the analyser keeps no
reading from a frame looking away, so it never learns a centre there) or was not read. Real
views keep their single-frame verdict. "drifted" puts the centre at the bound on the side the
eyes turned: a candidate who had moved their eyes that way, a step at a time, before looking
away. Tune half only: the bound is chosen here and on the tune half's clean sessions
(``eval/clean_sessions.py --half tune --eyes-centre DEG``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.frames import FrameSensitivity, analyse_frame  # noqa: E402
from eval import corpus, detectors, eyes  # noqa: E402


def readings(frames: int, per_class: int) -> list[tuple[bool, bool, bool, float | None, float | None]]:
    """Each tune-half looking-away view: (truth, single-frame verdict, head pose's verdict, the
    eyes' reading, the reading of the same view with the eyes not moved: None for real views)."""
    s = FrameSensitivity()
    tune = corpus.load("tune", frames, cache_dir=corpus.CACHE_DIR)
    out = []
    for item in detectors.looking_items(tune, "tune", per_class):
        obs = analyse_frame(item.data[0])
        rest = None
        if item.condition in (detectors.EYES_AWAY, detectors.EYES_AHEAD):
            index = int(item.id.rsplit("-", 1)[1])
            view = eyes.compose("tune", index, item.condition == detectors.EYES_AWAY, rest=True)[3]
            rest = analyse_frame(corpus.as_uploaded(view)).eyes_yaw
        out.append((bool(item.label), obs.looking_away, detectors.head_only(obs, s), obs.eyes_yaw, rest))
    return out


def verdicts(rows, bound: float, *, drifted: bool = False) -> list[bool]:
    limit = FrameSensitivity().max_eyes_yaw_deg
    out = []
    for _, single, head, e, rest in rows:
        if e is None or rest is None or bound <= 0:
            out.append(single)
            continue
        centre = 0.0 if abs(rest) > limit else max(-bound, min(bound, rest))
        if drifted:
            centre = bound if e > 0 else -bound
        out.append(head or abs(e - centre) > limit)
    return out


def line(name: str, rows, predicted: list[bool]) -> str:
    tp = sum(1 for r, p in zip(rows, predicted, strict=True) if r[0] and p)
    fp = sum(1 for r, p in zip(rows, predicted, strict=True) if not r[0] and p)
    pos = sum(1 for r in rows if r[0])
    return (
        f"| {name} | {tp} of {pos} | {tp / (pos or 1):.3f} | {fp} of {len(rows) - pos} | "
        f"{tp / ((tp + fp) or 1):.3f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600, help="tune-half corpus frames (real views)")
    parser.add_argument("--eyes", type=int, default=detectors.EYES_PER_CLASS, help="composed views per class")
    parser.add_argument("--bounds", default="4,6,8,10,12", help="eyes_centre_max_deg values to score")
    args = parser.parse_args(argv)
    rows = readings(args.frames, args.eyes)
    print(f"Looking away, tune half ({len(rows)} one-person views, as uploaded)\n")
    print("| judged | looks away caught | recall | looking at the screen flagged | precision |")
    print("|---|---|---|---|---|")
    print(line("single frame, from straight ahead", rows, [r[1] for r in rows]))
    for bound in (float(b) for b in args.bounds.split(",")):
        print(line(f"from the resting reading, bound {bound:g}", rows, verdicts(rows, bound)))
        print(line(f"drifted to the bound, {bound:g}", rows, verdicts(rows, bound, drifted=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
