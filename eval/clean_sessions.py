"""False flags per candidate-hour on simulated clean sessions, beside the bare call.

    .venv/bin/python eval/clean_sessions.py [--half report|tune] [--minutes 100] [--candidates N] [--jobs 2]
        [--flags] [--eyes-centre DEG]

Each session is one candidate of a half of the evaluation corpus alone at a
desk for ``--minutes`` at one frame a second, sent as the widget sends them
(a frame whose view did not change stays in the browser, one goes at least
every 2 s): natural sway, the head rolling slowly a few degrees either way,
the eyes moving over the screen as a reader's do (dwelling a few seconds on
one part of it, then another, never further from where they are in the
photo than ``eval/eyes.py``'s "eyes ahead", ~11° of eye rotation; only for
people with eye marks there), exposure drifting slowly, a cup raised to the
mouth, a hand on the chin, leaning back in the chair. Nothing in it should
raise a frame flag. The frames go through the pipeline's own pieces —
``FrameAnalyser`` (with its reuse of still frames and its per-candidate
centre for the eyes), the frame rules and the
episode trackers at their default timing — and, as the baseline, the bare
full-range call's face count through the same rules.

Every candidate of the half whose face is in view sits one session (the
report half's six for 100 minutes each: 10 candidate-hours, enough to show
at most one false flag per 10 candidate-hours). ``--half tune`` runs the tune
half's people in the tune half's rooms: what the pipeline's choices are made
on; the report half is only scored. ``--flags`` lists every false flag with
what the candidate was doing when it began. ``--jobs`` runs sessions in
parallel processes. ``--eyes-centre DEG`` sets how far from straight ahead
the analyser's per-candidate eyes centre may lie
(``FrameSensitivity.eyes_centre_max_deg``; 0: the eyes' limit from straight
ahead, as before the centre; ``--half tune --eyes-centre 0`` beside the
default is how its bound was chosen). ``--half tune --mouth`` chooses the
limit under which a face's mouth counts as covered
(``FrameSensitivity.mouth_covered_below``).
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import sys
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from analysis.frames import FrameAnalyser, FrameSensitivity, analyse_frame, mouth_detail  # noqa: E402
from analysis.tracker import EpisodeTracker  # noqa: E402
from eval import corpus, eyes  # noqa: E402
from eval.scoring import bare_count  # noqa: E402
from eval.unchanged import widget_sends_iter  # noqa: E402

# The pipeline's rules and timing (sessions.analysis_pipeline.FRAME_RULES / DEFAULT_TIMING),
# restated for the face-based flags so this runs without Django; tests keep them equal.
TIMING = {"FACE_ABSENCE": (5.0, 2.5), "MULTIPLE_FACE": (2.0, 2.5), "LOOKING_AWAY": (5.0, 2.5)}
RULES = {
    "FACE_ABSENCE": lambda faces, away, hidden=False: faces == 0 and not hidden,
    "MULTIPLE_FACE": lambda faces, away, hidden=False: faces >= 2,
    "LOOKING_AWAY": lambda faces, away, hidden=False: faces == 1 and away,
}
MINUTES = 100  # per candidate: the report half's six make 10 candidate-hours


# How a seated candidate's eyes move while reading the screen: the irises dwell on one part of
# it for a few seconds, then go to another, never past eval/eyes.py's "eyes ahead" limit (an
# iris within AHEAD_SHIFTS[1], ~11° of eye rotation, of where it is in the photo).
READING_SHIFTS = tuple(
    float(round(x, 4)) for x in np.linspace(-eyes.AHEAD_SHIFTS[1], eyes.AHEAD_SHIFTS[1], 5)
)
READING_DWELL = (3, 15)  # seconds on one part of the screen
MAX_ROLL_DEG = 8.0  # the head's slow sideways tilt (roll), either way


def reading_cutouts(person: corpus.Person) -> dict[float, corpus.Cutout]:
    """``person``'s cutout with the irises at each of ``READING_SHIFTS`` (the eyes on the screen);
    only the photo's own eyes for someone without eye marks (``eval/eyes.py``)."""
    if person.id not in eyes.EYE_MARKS:
        return {0.0: corpus.cutout(person)}
    return {
        shift: eyes._averted_cutout(person.id, shift) if shift else corpus.cutout(person)
        for shift in READING_SHIFTS
    }


def session_frames(
    candidate: corpus.Cutout | dict[float, corpus.Cutout], seconds: int, seed: int, half: str = "report"
):
    """One clean session, frame by frame (raw, as uploaded, what the candidate is doing).

    ``candidate`` is a cutout, or cutouts by iris shift (``reading_cutouts``): the eyes then
    move over the screen as a reader's do. The head rolls slowly either way (up to
    ``MAX_ROLL_DEG``). The eyes' motion and the roll come from a random stream of their own:
    the place, sway, light and cups are those of the sessions before either existed, and a
    session whose eyes move is the same session as one whose do not, frame for frame, but for
    the eyes.
    """
    rng = np.random.default_rng(seed)
    look = np.random.default_rng([seed, 1])
    pools = corpus._pools(half)
    backdrop = corpus._backdrop(str(rng.choice(["wall", "room", "window"])), pools.scenes, rng)
    w, h = corpus.VIEW
    views = candidate if isinstance(candidate, dict) else {0.0: candidate}
    first = views[0.0] if 0.0 in views else next(iter(views.values()))
    home = np.array([w * 0.5, h * 0.42, min(95.0, first.face_w * first.max_scale)])
    views = {k: _reduced(v, 1.5 * home[2]) for k, v in views.items()}
    shifts = sorted(views)
    pos = home.copy()
    shift, dwell_until, roll = (0.0 if 0.0 in views else shifts[0]), 0, 0.0
    for t in range(seconds):
        # Natural motion: a slow random walk pulled back to the usual place.
        pos = pos + rng.normal(0, [1.2, 0.8, 0.6]) + (home - pos) * 0.05
        roll = float(np.clip(roll + look.normal(0, 0.6) - roll * 0.03, -MAX_ROLL_DEG, MAX_ROLL_DEG))
        if t >= dwell_until:  # the eyes go to another part of the screen
            # One draw whatever the number of places (integers(1) draws nothing): the roll that
            # follows is the same with or without the eyes' motion.
            shift = shifts[min(int(look.random() * len(shifts)), len(shifts) - 1)]
            dwell_until = t + int(look.integers(READING_DWELL[0], READING_DWELL[1] + 1))
        cx, cy, face = pos
        event = "seated"
        if t % 360 < 20:  # leaning back in the chair
            face, cy, event = face * 0.75, cy - 8, "leaning back"
        canvas = backdrop.copy()
        corpus._paste(canvas, views[shift], face, cx, cy, roll)
        if 100 <= t % 240 < 108:  # a cup raised to the mouth
            corpus._hand_over_mouth(canvas, cx, cy, face, np.random.default_rng(t // 240))
            event = "cup"
        elif 200 <= t % 300 < 210:  # a hand on the chin
            corpus._hand_over_mouth(canvas, cx, cy + face * 0.25, face * 0.9, np.random.default_rng(t // 300))
            event = "hand on chin"
        drift = 1.0 + 0.2 * np.sin(2 * np.pi * t / 600.0)  # exposure drifting over ten minutes
        frame = corpus._sensor(corpus._light(canvas, drift, rng), rng)
        yield frame, corpus.as_uploaded(frame), event


def _reduced(cut: corpus.Cutout, face_px: float) -> corpus.Cutout:
    """``cut`` shrunk once so that its face is about ``face_px`` wide (when it is wider): the
    session pastes it at that size every second, and a large photo made each paste slow."""
    if cut.face_w <= face_px:
        return cut
    scale = face_px / cut.face_w
    ih, iw = cut.image.shape[:2]
    size = (max(int(round(iw * scale)), 2), max(int(round(ih * scale)), 2))
    image = cv2.resize(cut.image, size, interpolation=cv2.INTER_AREA)
    sx, sy = size[0] / iw, size[1] / ih
    return replace(
        cut,
        image=image,
        face_x=cut.face_x * sx,
        face_y=cut.face_y * sy,
        face_w=cut.face_w * sx,
        max_scale=cut.max_scale / sx,
    )


@dataclass
class Flag:
    type: str
    start: float
    end: float
    events: tuple[str, ...]  # what the candidate was doing, from 8 s before it began to its end


@dataclass
class Session:
    person: str
    minutes: int
    analysed: int = 0
    reused: int = 0
    unsent: int = 0
    events: Counter = field(default_factory=Counter)
    lost: Counter = field(default_factory=Counter)  # (event, hidden): frames with no face found
    absent: list[tuple[int, str]] = field(default_factory=list)  # (second, event) of those not hidden
    ours: list[Flag] = field(default_factory=list)
    bare: list[Flag] = field(default_factory=list)


def flags_of(observations: list[tuple[float, int, bool, bool]], doing: list[str]) -> list[Flag]:
    flags = []
    for type_, rule in RULES.items():
        tracker = EpisodeTracker(*TIMING[type_])
        events = [
            (kind, run)
            for t, faces, away, hidden in observations
            for kind, run in tracker.feed(t, rule(faces, away, hidden))
        ]
        for kind, run in events:
            if kind == "open":
                lo, hi = max(int(run["start"]) - 8, 0), int(run["end"]) + 1
                flags.append(Flag(type_, run["start"], run["end"], tuple(dict.fromkeys(doing[lo:hi]))))
    return flags


def count_flags(observations: list[tuple[float, int, bool, bool]]) -> Counter:
    return Counter(f.type for f in flags_of(observations, ["seated"] * (len(observations) + 10)))


def sit(half: str, index: int, minutes: int, eyes_centre: float | None = None) -> Session:
    """The ``index``-th candidate of ``half`` (whose face is in view) for ``minutes``;
    ``eyes_centre``: ``FrameSensitivity.eyes_centre_max_deg`` (None: the default)."""
    person = candidates(half)[index]
    s = FrameSensitivity() if eyes_centre is None else FrameSensitivity(eyes_centre_max_deg=eyes_centre)
    analyser = FrameAnalyser(sensitivity=s)
    result = Session(person.id, minutes)
    seed = zlib.crc32(person.id.encode())  # the same session for a person whoever else sits
    # One frame at a time: the widget's choice of each is made from the frames before it, so a
    # session of 100 minutes is never held in memory.
    views, seen = itertools.tee(session_frames(reading_cutouts(person), minutes * 60, seed, half))
    sends = widget_sends_iter(raw for raw, _, _ in seen)
    doing: list[str] = []
    ours, bare = [], []
    unsent = 0
    for t, ((_, frame, event), sent) in enumerate(zip(views, sends, strict=True)):
        doing.append(event)
        result.events[event] += 1
        bare.append((float(t), bare_count(frame), False, False))  # the bare call sees every frame
        if not sent:  # unchanged: stays in the browser
            unsent += 1
            continue
        obs = analyser.analyse(frame, at=float(t))
        if obs.face_count == 0 and event != "seated":
            result.lost[(event, obs.face_hidden)] += 1
            if not obs.face_hidden:
                result.absent.append((t, event))
        ours.append((float(t), obs.face_count, obs.looking_away, obs.face_hidden))
    result.unsent = unsent
    result.analysed, result.reused = analyser.analysed, analyser.reused
    result.ours, result.bare = flags_of(ours, doing), flags_of(bare, doing)
    return result


def candidates(half: str) -> list[corpus.Person]:
    """The half's people who can sit a session: a face in view, facing the camera (a head in
    profile, like the cameraman's, is looking away for as long as it stays so)."""
    return [p for p in corpus.PEOPLE if p.half == half and p.face_visible and not p.turned]


def simulate(
    half: str = "report",
    minutes: int = MINUTES,
    count: int | None = None,
    jobs: int = 1,
    eyes_centre: float | None = None,
) -> list[Session]:
    n = len(candidates(half)) if count is None else min(count, len(candidates(half)))
    if jobs <= 1 or n <= 1:
        return [sit(half, i, minutes, eyes_centre) for i in range(n)]
    # Started afresh, not forked: make eval runs mediapipe in this process before the clean
    # sessions, and a child forked from a process whose model threads have run can crash in
    # the allocator ("malloc(): unaligned tcache chunk detected", seen in make eval).
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=spawn) as pool:
        return list(pool.map(sit, [half] * n, range(n), [minutes] * n, [eyes_centre] * n))


MOUTH_MINUTES = 12  # per tune-half candidate: three cups and two hands on the chin each
MOUTH_MAX_UNCOVERED = 0.02  # the share of uncovered faces the mouth check may call covered


def mouth_details(minutes: int = MOUTH_MINUTES, half: str = "tune") -> dict[str, list[float]]:
    """``mouth_detail`` on one face found in the frames of each candidate of ``half``'s clean
    sessions, as uploaded, by what the candidate was doing (every frame of a cup or a hand on
    the chin, every fifth while leaning back, every twentieth while seated)."""
    out: dict[str, list[float]] = {}
    for person in candidates(half):
        seed = zlib.crc32(person.id.encode())
        for t, (_, frame, event) in enumerate(
            session_frames(corpus.cutout(person), minutes * 60, seed, half)
        ):
            if (event == "seated" and t % 20) or (event == "leaning back" and t % 5):
                continue
            faces = analyse_frame(frame).faces
            if len(faces) == 1 and (detail := mouth_detail(frame, faces[0])) is not None:
                out.setdefault(event, []).append(detail)
    return out


def choose_mouth_limit(details: dict[str, list[float]]) -> float:
    """The highest limit (a step of 0.05) under which at most ``MOUTH_MAX_UNCOVERED`` of the
    uncovered faces (seated, leaning back) fall: as many cups as can be told from a mouth."""
    uncovered = np.array(details.get("seated", []) + details.get("leaning back", []))
    best = 0.0
    for cut in np.arange(0.05, 1.51, 0.05):
        if uncovered.size and float((uncovered < cut).mean()) <= MOUTH_MAX_UNCOVERED:
            best = float(round(cut, 2))
    return best


def mouth_lines(details: dict[str, list[float]]) -> list[str]:
    limit = choose_mouth_limit(details)
    out = [f"mouth detail by what the candidate does (tune half); chosen limit {limit:.2f}"]
    for event, values in sorted(details.items()):
        v = np.array(values)
        p5, p50, p95 = np.percentile(v, [5, 50, 95])
        out.append(
            f"* {event}: {v.size} faces, 5/50/95th percentile {p5:.2f} / {p50:.2f} / {p95:.2f}; "
            f"under the limit {float((v < limit).mean()):.3f}"
        )
    return out


def lines(sessions: list[Session], *, flags: bool = False) -> list[str]:
    """The false flags per candidate-hour as markdown lines."""
    out = []
    ours_total: Counter = Counter()
    bare_total: Counter = Counter()
    events: Counter = Counter()
    for s in sessions:
        ours_total.update(f.type for f in s.ours)
        bare_total.update(f.type for f in s.bare)
        events += s.events
        out.append(
            f"* `{s.person}`, {s.minutes} min: {s.analysed} frames analysed, {s.reused} reused; "
            f"flags {len(s.ours)} (bare {len(s.bare)})"
        )
    hours = sum(s.minutes for s in sessions) / 60
    captured = sum(events.values())
    unsent = sum(s.unsent for s in sessions)
    seconds = ", ".join(f"{k} {v} s" for k, v in sorted(events.items()))
    out += [
        "",
        f"{len(sessions)} candidates, {hours:.2f} candidate-hours ({seconds}); "
        f"{unsent} of {captured} frames unchanged and not sent by the widget.",
        "",
        "| flag | analyse_frame: flags | per 10 candidate-hours | bare full range: flags | per 10 candidate-hours |",
        "|---|---|---|---|---|",
    ]
    for type_ in [*RULES, "all"]:
        o = sum(ours_total.values()) if type_ == "all" else ours_total[type_]
        b = sum(bare_total.values()) if type_ == "all" else bare_total[type_]
        out.append(f"| {type_} | {o} | {o * 10 / hours:.2f} | {b} | {b * 10 / hours:.2f} |")
    if flags:
        lost: Counter = Counter()
        for s in sessions:
            lost += s.lost
        out += [
            "",
            "No face found: "
            + ", ".join(f"{e} {'hidden' if h else 'absent'} {n}" for (e, h), n in sorted(lost.items())),
            "",
        ]
        for s in sessions:
            if s.absent:
                out.append(
                    f"* `{s.person}` no face, not hidden: " + ", ".join(f"{t} s ({e})" for t, e in s.absent)
                )
            for who, found in (("analyse_frame", s.ours), ("bare", s.bare)):
                for f in found:
                    out.append(
                        f"* {who}: `{s.person}` {f.type} at {f.start:.0f}-{f.end:.0f} s ({', '.join(f.events)})"
                    )
    return out


def run(
    minutes: int = MINUTES, candidates: int | None = None, half: str = "report", jobs: int = 1
) -> list[str]:
    return lines(simulate(half, minutes, candidates, jobs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=corpus.HALVES, default="report")
    parser.add_argument("--minutes", type=int, default=MINUTES)
    parser.add_argument("--candidates", type=int, help="the first N candidates of the half (default: all)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--flags", action="store_true", help="list every flag raised")
    parser.add_argument(
        "--eyes-centre",
        type=float,
        metavar="DEG",
        help="FrameSensitivity.eyes_centre_max_deg for the sessions (0: the eyes' limit from "
        "straight ahead, as before the per-candidate centre; default: the product's)",
    )
    parser.add_argument(
        "--mouth",
        action="store_true",
        help="choose the mouth-covered limit on the tune half's sessions (analysis.frames.mouth_detail)",
    )
    args = parser.parse_args(argv)
    if args.mouth:
        if args.half != "tune":
            parser.error("the mouth-covered limit is chosen on the tune half only")
        print("\n".join(mouth_lines(mouth_details(min(args.minutes, MOUTH_MINUTES)))))
        return 0
    sessions = simulate(args.half, args.minutes, args.candidates, args.jobs, args.eyes_centre)
    print("\n".join(lines(sessions, flags=args.flags)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
