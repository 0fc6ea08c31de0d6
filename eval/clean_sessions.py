"""False flags per candidate-hour on simulated clean sessions, beside the bare call.

    .venv/bin/python eval/clean_sessions.py [--minutes 20] [--candidates 3]

Each session is one candidate from the report half of the evaluation corpus
(people no threshold was chosen on) alone at a desk for ``--minutes`` at one
frame a second, sent as the widget sends them (a frame whose view did not
change stays in the browser, one goes at least every 2 s): natural sway, exposure drifting
slowly, a cup raised to the mouth, a hand on the chin, leaning back in the
chair. Nothing in it should raise a frame flag. The frames go through the
pipeline's own pieces — ``FrameAnalyser`` (with its reuse of still frames),
the frame rules and the episode trackers at their default timing — and, as
the baseline, the bare full-range call's face count through the same rules.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from analysis.frames import FrameAnalyser  # noqa: E402
from analysis.tracker import EpisodeTracker  # noqa: E402
from eval import corpus  # noqa: E402
from eval.scoring import bare_count  # noqa: E402
from eval.unchanged import widget_sends  # noqa: E402

# The pipeline's rules and timing (sessions.analysis_pipeline.FRAME_RULES / DEFAULT_TIMING),
# restated for the face-based flags so this runs without Django; tests keep them equal.
TIMING = {"FACE_ABSENCE": (5.0, 2.5), "MULTIPLE_FACE": (2.0, 2.5), "LOOKING_AWAY": (5.0, 2.5)}
RULES = {
    "FACE_ABSENCE": lambda faces, away, hidden=False: faces == 0 and not hidden,
    "MULTIPLE_FACE": lambda faces, away, hidden=False: faces >= 2,
    "LOOKING_AWAY": lambda faces, away, hidden=False: faces == 1 and away,
}


def session_frames(candidate: corpus.Cutout, seconds: int, seed: int):
    """One clean session, frame by frame (as uploaded), with what happens in it."""
    rng = np.random.default_rng(seed)
    pools = corpus._pools("report")
    backdrop = corpus._backdrop(str(rng.choice(["wall", "room", "window"])), pools.scenes, rng)
    w, h = corpus.VIEW
    home = np.array([w * 0.5, h * 0.42, min(95.0, candidate.face_w * candidate.max_scale)])
    pos = home.copy()
    for t in range(seconds):
        # Natural motion: a slow random walk pulled back to the usual place.
        pos = pos + rng.normal(0, [1.2, 0.8, 0.6]) + (home - pos) * 0.05
        cx, cy, face = pos
        event = "seated"
        if t % 360 < 20:  # leaning back in the chair
            face, cy, event = face * 0.75, cy - 8, "leaning back"
        canvas = backdrop.copy()
        corpus._paste(canvas, candidate, face, cx, cy, 0.0)
        if 100 <= t % 240 < 108:  # a cup raised to the mouth
            corpus._hand_over_mouth(canvas, cx, cy, face, np.random.default_rng(t // 240))
            event = "cup"
        elif 200 <= t % 300 < 210:  # a hand on the chin
            corpus._hand_over_mouth(canvas, cx, cy + face * 0.25, face * 0.9, np.random.default_rng(t // 300))
            event = "hand on chin"
        drift = 1.0 + 0.2 * np.sin(2 * np.pi * t / 600.0)  # exposure drifting over ten minutes
        frame = corpus._sensor(corpus._light(canvas, drift, rng), rng)
        yield frame, corpus.as_uploaded(frame), event


def count_flags(observations: list[tuple[float, int, bool, bool]]) -> Counter:
    flags: Counter = Counter()
    for type_, rule in RULES.items():
        tracker = EpisodeTracker(*TIMING[type_])
        for t, faces, away, hidden in observations:
            flags[type_] += sum(1 for kind, _ in tracker.feed(t, rule(faces, away, hidden)) if kind == "open")
    return flags


def run(minutes: int = 20, candidates: int = 3) -> list[str]:
    """The sessions, and the false flags per candidate-hour as markdown lines."""
    people = [p for p in corpus.PEOPLE if p.half == "report" and p.face_visible][:candidates]
    ours_total: Counter = Counter()
    bare_total: Counter = Counter()
    events: Counter = Counter()
    lines = []
    unsent = captured = 0
    for i, person in enumerate(people):
        analyser = FrameAnalyser()
        ours, bare = [], []
        session = list(session_frames(corpus.cutout(person), minutes * 60, i))
        sends = widget_sends([raw for raw, _, _ in session])
        for t, ((_, frame, event), sent) in enumerate(zip(session, sends, strict=True)):
            events[event] += 1
            bare.append((float(t), bare_count(frame), False, False))  # the bare call sees every frame
            if not sent:  # unchanged: stays in the browser
                continue
            obs = analyser.analyse(frame, at=float(t))
            ours.append((float(t), obs.face_count, obs.looking_away, obs.face_hidden))
        unsent += len(sends) - sum(sends)
        captured += len(sends)
        o, b = count_flags(ours), count_flags(bare)
        ours_total += o
        bare_total += b
        lines.append(
            f"* `{person.id}`, {minutes} min: {analyser.analysed} frames analysed, {analyser.reused} reused; "
            f"flags {sum(o.values())} (bare {sum(b.values())})"
        )
    hours = len(people) * minutes / 60
    seconds = ", ".join(f"{k} {v} s" for k, v in sorted(events.items()))
    lines += [
        "",
        f"{len(people)} candidates, {hours:.2f} candidate-hours ({seconds}); "
        f"{unsent} of {captured} frames unchanged and not sent by the widget.",
        "",
        "| flag | analyse_frame, per candidate-hour | bare full range, per candidate-hour |",
        "|---|---|---|",
    ]
    for type_ in RULES:
        lines.append(f"| {type_} | {ours_total[type_] / hours:.2f} | {bare_total[type_] / hours:.2f} |")
    lines.append(f"| all | {sum(ours_total.values()) / hours:.2f} | {sum(bare_total.values()) / hours:.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=3)
    args = parser.parse_args(argv)
    print("\n".join(run(args.minutes, args.candidates)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
