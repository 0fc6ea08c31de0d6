"""One candidate-hour through the real upload and task code.

3600 camera frames (320x240, 1/s), 120 snapshots (640x480, every 30 s) and
the audio windows an energy-gated widget sends (one 5-s window in ten). The
widget's choice of frames is played as the widget makes it: a frame whose
thumbnail has not changed since the last changed frame sent (camera noise
is not change; the widget's ``stillThreshold``, read from its capture
source) is not sent, but one goes at least every 2 s. What is sent is
uploaded through ``media_store`` at the session's upload interval (every 2 s:
candidate warnings are on by default, ``sessions.services.WARNING_UPLOAD_INTERVAL_MS``;
5 s with them off, ``--upload-seconds 5``; each upload queues a run) (at the widget's JPEG
qualities, the frames' read from its capture source; the scenes are detailed
photographs, so the volume is higher than a real webcam's) and analysed by the real Celery task body
(decode, detect, state machine, database writes) — then the bare mediapipe
full-range call on every captured frame in the same run, as the baseline.
The models are loaded before the clock starts (a worker serves many
candidates; loading them is not a per-candidate cost).

    .venv/bin/python bench/analysis.py [--minutes 60] [--every-frame] [--upload-seconds N]

``--every-frame`` sends every frame (the widget before it skipped unchanged
ones). Prints the whole pipeline's CPU-seconds per candidate-hour beside the
bare detector's on every captured frame (the baseline, same run), and where
they go: frames (the stream analyser), snapshots (decode and face count),
identity (the dlib descriptor), audio (voice detection, speech episodes and
their clips), storage (the upload's files and rows), view (the session as the
upload view loads it, before it stores the upload: ``sessions.rows.session_with_related``,
as ``sessions.widget_views.session_from_token`` calls it) and bookkeeping (the rest: the analysis run's reads and writes, folding chunks into flags, the
flags' rows, the score, the session's state, the transactions). Each component's time is its own (CPU of the calls it makes to
another component is that one's). Also frames per second per core and the
ratio of the pipeline's cost per captured frame to the bare detector's, and the bare
detector's cost on the frames sent alone (those the server receives; a stricter baseline).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "analysis")]
_tmp = tempfile.mkdtemp(prefix="proctorme-bench-")
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)  # its database and media go with it
os.environ.setdefault("SQLITE_PATH", f"{_tmp}/bench.sqlite3")
os.environ["MEDIA_ROOT"] = f"{_tmp}/media"
os.environ["TASKS_MODE"] = "sync"  # the task body runs inline, as a worker would run it
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proctorme.settings")

import django  # noqa: E402

django.setup()

import material  # noqa: E402
import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from analysis.frames import (  # noqa: E402
    FrameAnalyser,
    decode_jpeg,
    raw_full_range_detections,
)
from eval.corpus import widget_capture  # noqa: E402
from eval.unchanged import widget_sends, widget_threshold  # noqa: E402
from sessions import analysis_pipeline as pipeline  # noqa: E402
from sessions.config import parse_eye  # noqa: E402
from sessions.finalise import session_finalise  # noqa: E402
from sessions.models import Flag, MediaChunk, ProctoringSession  # noqa: E402
from sessions.rows import session_with_related  # noqa: E402
from sessions.services import session_end, session_start  # noqa: E402
from sessions.uploads import UploadItem, media_store  # noqa: E402
from tenants.services import institution_create  # noqa: E402


def _scenes(rng) -> dict[str, list[tuple[np.ndarray, bytes]]]:
    """A few webcam scenes; each frame gets its own sensor noise and JPEG encoding (the
    raw view for the widget's still check, the JPEG it would send)."""
    size = (320, 240)
    base = {
        # Seed 4: a furnished room behind the candidate (seed 3 would be a plain wall).
        "one": material.compose(["astronaut"], size, np.random.default_rng(4)),
        "none": material.background(size, np.random.default_rng(4)),
        "two": material.compose(["astronaut", "man_a"], size, np.random.default_rng(5)),
        "away": material.compose(["cameraman"], size, np.random.default_rng(6)),
    }
    out = {}
    for name, image in base.items():
        variants = []
        for i in range(24):
            # Variants 0-11: sitting still (sensor noise and exposure flicker only); 12-23:
            # moving a few pixels.
            shift = rng.integers(-3, 4, size=2) if i >= 12 else (0, 0)
            moved = np.roll(image, tuple(shift), axis=(0, 1)).astype(np.float32)
            noisy = moved * rng.normal(1.0, 0.005) + rng.normal(0, 2.5, moved.shape)
            noisy = np.clip(noisy, 0, 255).astype(np.uint8)
            variants.append((noisy, material.jpeg_bytes(noisy, quality=widget_capture()[2])))
        out[name] = variants
    return out


class Meter:
    """CPU-seconds per component, exclusive: time a metered call spends in another metered
    call is the inner one's."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[list] = []  # [component, started]

    def wrap(self, component: str, fn):
        def metered(*args, **kwargs):
            now = time.process_time()
            if self._stack:
                self._charge(self._stack[-1], now)
            entry = [component, now]
            self._stack.append(entry)
            try:
                return fn(*args, **kwargs)
            finally:
                done = time.process_time()
                self._charge(entry, done)
                self._stack.pop()
                self.calls[component] = self.calls.get(component, 0) + 1
                if self._stack:
                    self._stack[-1][1] = done

        return metered

    def _charge(self, entry: list, now: float) -> None:
        self.cpu[entry[0]] = self.cpu.get(entry[0], 0.0) + now - entry[1]
        entry[1] = now

    def patch(self, component: str, owner, name: str) -> None:
        setattr(owner, name, self.wrap(component, getattr(owner, name)))


def _timeline(seconds: int) -> list[str]:
    """Mostly one candidate; an absence, a second person and a glance away every 20 minutes."""
    scene = []
    for t in range(seconds):
        m = t % 1200
        scene.append(
            "none" if 300 <= m < 320 else "two" if 600 <= m < 608 else "away" if 900 <= m < 912 else "one"
        )
    return scene


def _audio_windows(windows: int, rng) -> dict[int, bytes]:
    try:
        voice = material.speech(material.SENTENCES[0], "en", Path(_tmp))
    except material.MissingTool:
        print("  (espeak-ng/sox missing: no audio in this run)")
        return {}
    out = {}
    for w in range(windows):
        if w % 10 == 3:
            x = material.white(16000 * 5, rng) * 0.002
            x[8000 : 8000 + len(voice[: 16000 * 4])] += voice[: 16000 * 4] * 0.5
            out[w] = material.to_pcm(x)
    return out


def _session(publishable: str, seconds: int, candidate: str) -> ProctoringSession:
    started = session_start(
        request=parse_eye(
            {
                "apiKey": publishable,
                "assessmentId": "bench",
                "assessmentTitle": "Bench",
                "candidateId": candidate,
                "candidateEmail": f"{candidate}@bench.example",
                "candidateFirstName": "C",
                "candidateLastName": "B",
                "institutionName": "Bench",
                "examDuration": seconds + 600,
            }
        ),
        origin="https://bench.example",
    )
    session = started.session
    session.started_at -= timedelta(seconds=seconds + 60)
    ProctoringSession.objects.filter(pk=session.pk).update(started_at=session.started_at)
    return session


def _view_load(public_id) -> ProctoringSession:
    """The session as the upload view loads it (sessions.widget_views.session_from_token)."""
    return session_with_related(public_id)


def _play(
    session, span: range, sent_at: dict, snapshot: bytes, audio: dict, store, every: int, view_load=_view_load
) -> tuple[int, int, int]:
    """Upload the seconds ``span`` of the material in ``every``-second batches as the widget
    does (each batch analysed as its commit queues it; an audio window goes in the first batch
    after it ends), end the session and run its final pass."""
    snap_seq = audio_seq = batches = 0
    for batch_start in range(span.start, span.stop, every):
        batch_end = min(batch_start + every, span.stop)
        items = []
        for t in range(batch_start, batch_end):
            at = session.started_at + timedelta(seconds=t - span.start)
            if t in sent_at:
                seq, jpeg = sent_at[t]
                items.append(UploadItem("f", "frame", seq, at, jpeg))
            if t % 30 == 29:
                snap_seq += 1
                items.append(UploadItem("s", "snapshot", snap_seq, at, snapshot))
        for window in range(batch_start // 5, batch_end // 5 + 1):
            if window in audio and batch_start < 5 * window + 5 <= batch_end:
                audio_seq += 1
                items.append(
                    UploadItem(
                        "a",
                        "audio",
                        audio_seq,
                        session.started_at + timedelta(seconds=5 * window - span.start),
                        audio[window],
                        5.0,
                    )
                )
        if not items:
            continue
        batches += 1
        with transaction.atomic():  # commit → the analysis task runs (TASKS_MODE=sync)
            store(session=view_load(session.public_id), items=items)
    session_end(session=ProctoringSession.objects.get(pk=session.pk))
    session_finalise(session=ProctoringSession.objects.get(pk=session.pk))
    return snap_seq, audio_seq, batches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--every-frame", action="store_true", help="send every frame, unchanged or not")
    parser.add_argument(
        "--upload-seconds",
        type=int,
        default=None,
        help="seconds between uploads (default: the session's uploadIntervalMs, 2 s with warnings on)",
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(1)
    seconds = args.minutes * 60
    scenes = _scenes(rng)
    timeline = _timeline(seconds)
    snapshot = material.jpeg_bytes(
        material.compose(["astronaut"], (640, 480), np.random.default_rng(4)), quality=50
    )
    audio = _audio_windows(seconds // 5, rng)

    institution, publishable, _ = institution_create(name=f"Bench {time.time()}", domains=["bench.example"])
    # A seated candidate: still most of the time, moving 12 s in every 100.
    captured = [scenes[name][t % 12 + (12 if t % 100 < 12 else 0)] for t, name in enumerate(timeline)]
    if args.every_frame:
        chosen = [True] * len(captured)
    else:
        chosen = widget_sends([view for view, _ in captured])
    sent_frames = [
        (t, jpeg) for t, ((_, jpeg), keep) in enumerate(zip(captured, chosen, strict=True)) if keep
    ]
    sent_at = {t: (seq, jpeg) for seq, (t, jpeg) in enumerate(sent_frames, 1)}
    frames_bytes = [jpeg for _, jpeg in captured]
    volume = {
        "frames": sum(len(jpeg) for _, jpeg in sent_frames),
        "snapshots": len(snapshot) * (seconds // 30),
        "audio": sum(map(len, audio.values())),
    }

    # Warm up (models, lazily imported modules, the URL map evidence links are signed
    # with), as a long-running worker is: another candidate's two minutes (with an absence, so
    # a flag is recorded and published), through the same code, before the clock starts.
    warm = range(290, min(410, seconds)) if seconds >= 410 else range(0, min(120, seconds))
    warm_sent = {t: (seq, sent_at[t][1]) for seq, t in enumerate((t for t in warm if t in sent_at), 1)}
    session = _session(publishable, seconds, "c")
    every = args.upload_seconds or max(round(session.config["capture"]["uploadIntervalMs"] / 1000), 1)
    warm_session = _session(publishable, len(warm), "warm")
    _play(warm_session, warm, warm_sent, snapshot, audio, media_store, every)

    meter = Meter()
    for component, owner, name in (
        ("frames", pipeline, "_observe_frame"),
        ("snapshots", pipeline, "_observe_picture"),
        ("identity", pipeline, "face_descriptor"),
        ("audio", pipeline, "_observe_audio"),
        ("audio", pipeline._Folder, "audio"),
        ("audio", pipeline._Folder, "_audio_evidence"),
    ):
        meter.patch(component, owner, name)
    store = meter.wrap("storage", media_store)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    view_load = meter.wrap("view", _view_load)
    snap_seq, audio_seq, batches = _play(
        session, range(seconds), sent_at, snapshot, audio, store, every, view_load
    )
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0

    # Frame analysis alone (decode, still check, detection) on the frames sent, as the task runs it.
    analyser = FrameAnalyser()
    f0 = time.process_time()
    for t, jpeg in sent_frames:
        analyser.analyse_jpeg(jpeg, at=float(t))
    frame_cpu = time.process_time() - f0

    decoded = [decode_jpeg(b) for b in frames_bytes[:600]]
    for f in decoded[:10]:
        raw_full_range_detections(f)
    b0 = time.process_time()
    for f in decoded:
        raw_full_range_detections(f)
    bare_per_frame = (time.process_time() - b0) / len(decoded)

    session = ProctoringSession.objects.get(pk=session.pk)
    frames = len(frames_bytes)
    per_hour = cpu * 3600 / seconds
    print(
        f"one candidate, {args.minutes} min: {frames} frames, {snap_seq} snapshots, {audio_seq} audio windows; "
        f"an upload every {every} s ({batches} uploads, each analysed)"
    )
    print(
        f"  pipeline CPU                      : {cpu:7.1f} s  ({per_hour:.1f} CPU-s per candidate-hour; wall {wall:.1f} s)"
    )
    print(
        f"  frames sent                       : {len(sent_frames):7d} of {frames} captured "
        f"({frames - len(sent_frames)} unchanged, not sent; widget stillThreshold "
        f"{'off' if args.every_frame else f'{widget_threshold():.0f}'})"
    )
    print(
        f"  of which frame analysis           : {frame_cpu * 3600 / seconds:7.1f} CPU-s per candidate-hour "
        f"({analyser.analysed} frames analysed, {analyser.reused} reused; {analyser.hog_skipped} "
        "empty views HOG saw unchanged, its look skipped)"
    )
    print(
        f"  pipeline per frame (all included) : {cpu / frames * 1000:7.2f} ms  -> {frames / cpu:6.1f} frames/s per core"
    )
    print(
        f"  bare full-range detector          : {bare_per_frame * 1000:7.2f} ms  -> {1 / bare_per_frame:6.1f} frames/s per core"
    )
    print(f"  ratio pipeline / bare detector    : {cpu / frames / bare_per_frame:7.2f}x")
    bare_hour = bare_per_frame * frames * 3600 / seconds
    # The stricter baseline: the bare call on each frame the server receives (the widget does
    # not send unchanged ones), which is what a server running only the bare detector would pay.
    sent_hour = bare_per_frame * len(sent_frames) * 3600 / seconds
    print(
        f"  bare detector on the frames sent  : {sent_hour:7.1f} CPU-s per candidate-hour "
        f"({len(sent_frames)} frames; pipeline {per_hour / sent_hour:.2f}x)"
    )
    print(
        f"  CPU-s per candidate-hour          : pipeline {per_hour:.1f} beside the bare detector on every "
        f"captured frame {bare_hour:.1f} ({per_hour / bare_hour:.2f}x); by component:"
    )
    parts = dict(meter.cpu)
    parts["bookkeeping"] = cpu - sum(parts.values())
    for component in ("frames", "snapshots", "identity", "audio", "storage", "view", "bookkeeping"):
        part = parts.get(component, 0.0)
        calls = meter.calls.get(component)
        print(
            f"    {component:<12s}: {part * 3600 / seconds:6.1f} CPU-s per candidate-hour "
            f"({part / cpu * 100:4.1f} %{f', {calls} calls' if calls else ''})"
        )
    mb = {kind: size / 1e6 * 3600 / seconds for kind, size in volume.items()}
    print(
        f"  upload volume at these defaults   : {sum(mb.values()):7.1f} MB per candidate-hour "
        f"(frames {mb['frames']:.1f}, snapshots {mb['snapshots']:.1f}, audio {mb['audio']:.1f})"
    )
    flags = Counter(Flag.objects.filter(session=session).values_list("type", flat=True))
    print(
        f"  flags: {dict(sorted(flags.items()))} ({sum(flags.values())}), trust score {session.trust_score}"
    )
    print(f"  media rows: {MediaChunk.objects.filter(session=session).count()}")


if __name__ == "__main__":
    main()
