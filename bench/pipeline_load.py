"""N candidates at the widget's real cadence against the production topology.

Starts what `make run-prod` starts (HAProxy, the ASGI servers, Celery workers and
beat, a temporary PostgreSQL database, a Redis database of its own), then plays N
candidates for ``--seconds`` each: a session started through the load balancer,
one WebSocket, a 320x240 JPEG camera view every second (quality 0.6, each with
its own sensor noise) of which only what the widget sends goes up: a seated
candidate's view does not change, so capture.js ``frameUnchanged`` keeps it back
but for one frame every 2 s (``--every-frame`` sends them all, as the widget did
before), uploaded with the rest at the widget's cadence as the session start hands it out
(every 2 s while candidate warnings are on, the default; 5 s without); a 640x480 snapshot every 30 s, a
gated 5-s audio window (16 kHz PCM, 160 kB) every 30 s, a tab switch (two
signals) every 60 s, a reconnect of the socket once a minute; every candidate
steps out of view for 15 s once (a changed view: sent at once), so each run has
FACE_ABSENCE flags whose latency from capture to the
widget is measured. Two candidates play 20 s first, not counted: the Celery worker
loads its models on its first task, once per process. Reported per N: sockets held, upload and signal-ack
latency, flag latency from capture (p50/p99), the Celery queue's depth over the
run (growing or not), and CPU seconds per candidate-minute by component
(ASGI, Celery, HAProxy, PostgreSQL, Redis, the load generator), and Celery's
CPU-seconds per candidate-hour (the analysis). The baseline,
from the same run: the bare mediapipe full-range call on the same frame, which
bounds the candidates a core could analyse if analysis were all there is.

    .venv/bin/python bench/pipeline_load.py [--candidates 5,10,20,40,80] [--seconds 60]
                                            [--asgi 2] [--workers 1] [--no-stop-at-bend]
                                            [--every-frame]

The curve: N goes up until analysis stops keeping up (flag latency from capture
p99 above 10 s, or the queue still not empty 10 s after the candidates stopped),
and that N is where it bends. Figures only; nothing is asserted on time. Skips
(exit 0) without PostgreSQL, Redis or HAProxy. Every process it starts and its
database are gone when it ends: it checks (no process of the topology left, the
database dropped) and exits 1 when something is left.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _meters import CLK_TCK, PostgresCpu, cpu_ticks  # noqa: E402

from deploy.topology import Topology, TopologyError, free_port  # noqa: E402
from eval.unchanged import widget_threshold  # noqa: E402

# The sync client is opened and closed by hand: a candidate's socket outlives any one block.
warnings.filterwarnings("ignore", message="connect\\(\\) must be used as a context manager")
PG_URL = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "proctorme_load")
ORIGIN = "https://bench.example"
FLAG_P99_LIMIT = 10.0  # seconds from capture: analysis keeps up while the p99 stays within this
DRAIN_LIMIT = 10.0  # seconds the queue may take to empty once the candidates stop
ABSENCE_MIN_SECONDS = 5.0  # sessions.analysis_pipeline.DEFAULT_TIMING["FACE_ABSENCE"][0]


def _skip(reason: str) -> None:
    print(f"skipped: {reason}")
    sys.exit(0)


def _pcts(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"


def _pcts_s(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    return f"p50 {ordered[len(ordered) // 2]:.1f} s, p99 {ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]:.1f} s"


# --- media ---------------------------------------------------------------------------------


VARIANTS = 6  # encodings of each view, each with its own sensor noise, played in turn
HOLD_SECONDS = 2  # capture.js CAP.frameHoldMs: a still view still goes every 2 s


def _media() -> dict:
    import cv2
    import numpy as np
    from skimage import data

    from analysis.frames import _thumbnail

    face = cv2.cvtColor(cv2.resize(data.astronaut()[:300, 100:400], (320, 240)), cv2.COLOR_RGB2BGR)
    room = cv2.cvtColor(cv2.resize(data.coffee(), (320, 240)), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(1)

    def noisy(image):
        return np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)

    def jpeg(image, quality):
        return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()

    def views(image):
        # A seated candidate: the same view with fresh sensor noise in every frame, each with
        # the grey thumbnail the widget's still check compares (capture.js frameUnchanged).
        out = []
        for _ in range(VARIANTS):
            frame = noisy(image)
            out.append((jpeg(frame, 60), _thumbnail(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))))
        return out

    # A gated 5-s audio window as the widget sends it: 16-kHz 16-bit little-endian mono PCM.
    t = np.arange(5 * 16000) / 16000
    speech = (np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) * 8000).astype("<i2")
    return {
        "audio": speech.tobytes(),
        "present": views(face),  # the widget's frame quality (0.6)
        "absent": views(room),
        "snapshot": jpeg(noisy(cv2.resize(face, (640, 480))), 50),
        "still_threshold": widget_threshold(),
    }


class WidgetStill:
    """capture.js ``frameUnchanged``: a frame is not sent when its thumbnail is within the
    widget's ``stillThreshold`` of the last changed frame sent, unless ``HOLD_SECONDS``
    have passed since the last frame sent."""

    def __init__(self, threshold: float) -> None:
        self.threshold, self.ref, self.sent_at = threshold, None, None

    def send(self, thumb, now: float) -> bool:
        from analysis.frames import frame_change

        same = self.ref is not None and frame_change(self.ref, thumb) < self.threshold
        due = self.sent_at is None or now - self.sent_at >= HOLD_SECONDS - 0.5
        if same and not due:
            return False
        if not same:
            self.ref = thumb
        self.sent_at = now
        return True


def _bare_ms_per_frame(frame: bytes, n: int = 60) -> float:
    from analysis.frames import decode_jpeg, raw_full_range_detections

    rgb = decode_jpeg(frame)
    raw_full_range_detections(rgb)  # warm-up
    started = time.process_time()
    for _ in range(n):
        raw_full_range_detections(rgb)
    return (time.process_time() - started) / n * 1000


# --- one candidate -----------------------------------------------------------------------


class Candidate(threading.Thread):
    def __init__(
        self,
        run: int,
        index: int,
        url: str,
        key: str,
        media: dict,
        seconds: float,
        results: dict,
        every_frame: bool = False,
    ) -> None:
        super().__init__(daemon=True, name=f"candidate-{index}")
        self.round = run  # each N plays new candidates: a repeated id would be a resume (409)
        self.index, self.url, self.key, self.media, self.seconds = index, url, key, media, seconds
        self.results = results
        self.every_frame = every_frame
        # Each candidate steps out of view for 15 s at its own moment.
        self.absent_from = 10 + (index * 7) % max(1, int(seconds) - 30)
        self.absent_to = self.absent_from + 15

    def _post(self, path_or_url: str, body: bytes, headers: dict) -> tuple[int, dict, float]:
        url = path_or_url if path_or_url.startswith("http") else f"{self.url}{path_or_url}"
        request = urllib.request.Request(url, data=body, headers={"Origin": ORIGIN, **headers})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
                return response.status, json.loads(response.read() or b"{}"), time.monotonic() - started
        except urllib.error.HTTPError as exc:
            return exc.code, {}, time.monotonic() - started
        except OSError:
            return 0, {}, time.monotonic() - started

    def run(self) -> None:
        r = self.results
        config = {
            "apiKey": self.key,
            "assessmentId": "load",
            "assessmentTitle": "Load",
            "candidateId": f"c-{self.round}-{self.index}",
            "candidateEmail": f"c{self.round}-{self.index}@bench.example",
            "candidateFirstName": "C",
            "candidateLastName": str(self.index),
            "institutionName": "Bench",
            "examDuration": int(self.seconds) + 600,
        }
        status, started, _ = self._post(
            "/widget/v1/sessions",
            json.dumps({"dialect": "eye", "config": config, "resumeSecret": uuid.uuid4().hex * 2}).encode(),
            {"Content-Type": "application/json"},
        )
        if status != 201:
            r["start_failures"].append(status)
            return
        from websockets.sync.client import connect

        begin = time.monotonic()
        wall0 = datetime.now(UTC)
        seq = 0
        pending_frames: list[tuple[dict, bytes]] = []
        tick = frame_seq = snap_seq = audio_seq = 0  # seconds of capture; frames sent (numbered in turn)
        next_frame = begin
        # The widget's own cadence, as the server set it for this session (every 2 s while
        # candidate warnings are on, the default; else 5 s).
        upload_every = started["settings"]["capture"]["uploadIntervalMs"] / 1000
        r["upload_every"] = upload_every
        next_upload = begin + upload_every
        next_reconnect = begin + 40  # then once a minute
        signals_sent: dict[int, float] = {}
        absent_capture_at: float | None = None
        socket = None
        still = WidgetStill(self.media["still_threshold"])

        def open_socket():
            nonlocal socket
            try:
                socket = connect(started["wsUrl"], origin=ORIGIN, open_timeout=20)
                socket.send(json.dumps({"type": "auth", "token": started["token"]}))
                socket.recv(timeout=20)  # hello
                r["sockets"] += 1
            except Exception:
                socket = None
                r["socket_failures"] += 1

        def drain():
            nonlocal socket
            if socket is None:
                return
            try:
                while True:
                    message = json.loads(socket.recv(timeout=0))
                    now = time.monotonic()
                    if message.get("type") == "ack" and message.get("seq") in signals_sent:
                        r["ack"].append(now - signals_sent.pop(message["seq"]))
                    elif (
                        message.get("type") == "flag"
                        and message["flag"].get("type") == "FACE_ABSENCE"
                        and absent_capture_at is not None
                    ):
                        r["flag"].append(now - absent_capture_at - ABSENCE_MIN_SECONDS)
            except TimeoutError:
                return
            except Exception:
                socket = None

        open_socket()
        while time.monotonic() - begin < self.seconds:
            now = time.monotonic()
            elapsed = now - begin
            if now >= next_frame:
                tick += 1
                absent = self.absent_from <= elapsed < self.absent_to
                if absent and absent_capture_at is None:
                    absent_capture_at = now
                captured = (wall0 + timedelta(seconds=elapsed)).isoformat()
                jpeg, thumb = self.media["absent" if absent else "present"][tick % VARIANTS]
                if self.every_frame or still.send(thumb, now):
                    frame_seq += 1
                    pending_frames.append(
                        (
                            {
                                "part": f"f{frame_seq}",
                                "kind": "frame",
                                "seq": frame_seq,
                                "capturedAt": captured,
                            },
                            jpeg,
                        )
                    )
                    r["frames_sent"] += 1
                else:
                    r["frames_unchanged"] += 1
                if tick % 30 == 1:
                    snap_seq += 1
                    pending_frames.append(
                        (
                            {
                                "part": f"s{snap_seq}",
                                "kind": "snapshot",
                                "seq": snap_seq,
                                "capturedAt": captured,
                            },
                            self.media["snapshot"],
                        )
                    )
                if tick % 30 == 15:
                    # Someone speaks: one gated 5-s audio window every 30 s.
                    audio_seq += 1
                    pending_frames.append(
                        (
                            {
                                "part": f"a{audio_seq}",
                                "kind": "audio",
                                "seq": audio_seq,
                                "capturedAt": captured,
                                "durationMs": 5000,
                                "sampleRate": 16000,
                            },
                            self.media["audio"],
                        )
                    )
                next_frame += 1
            if now >= next_upload and pending_frames:
                body, content_type = _multipart(pending_frames)
                status, _, took = self._post(
                    started["uploadUrl"],
                    body,
                    {"Authorization": f"Bearer {started['token']}", "Content-Type": content_type},
                )
                if status == 202:
                    r["upload"].append(took)
                    r["bytes"] += len(body)
                    pending_frames = []
                else:
                    r["upload_failures"].append(status)
                next_upload = now + upload_every
            if int(elapsed) % 60 in (30, 31) and socket is not None and not signals_sent:
                for focused in (False, True):
                    seq += 1
                    at = datetime.now(UTC).isoformat()
                    message = {
                        "type": "signal",
                        "seq": seq,
                        "event": "TAB_FOCUS_CHANGE",
                        "at": at,
                        "payload": {"focused": focused, "cause": "visibility"},
                    }
                    try:
                        socket.send(json.dumps(message))
                        signals_sent[seq] = time.monotonic()
                    except Exception:
                        socket = None
            if now >= next_reconnect and socket is not None:
                socket.close()
                socket = None
                r["reconnects"] += 1
                next_reconnect = now + 60
            if socket is None:
                open_socket()
            drain()
            time.sleep(0.05)
        if socket is not None:
            drain()
            socket.close()


def _multipart(items: list[tuple[dict, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    meta = json.dumps({"items": [m for m, _ in items]})
    out = [f'--{boundary}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n{meta}\r\n'.encode()]
    for m, data in items:
        out.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{m["part"]}"; filename="{m["part"]}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


# --- CPU by component --------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _tree(int(child))
    return found


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _components(topology: Topology) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {"asgi": [], "celery": [], "haproxy": []}
    for name, proc in topology.procs:
        kind = "asgi" if name.startswith("asgi") else "haproxy" if name == "haproxy" else "celery"
        groups[kind] += _tree(proc.pid)
    # Redis: the whole server (anything else using it meanwhile too). PostgreSQL: CpuByComponent.
    groups["redis"] = _pids_named("redis-server")
    groups["load generator"] = [os.getpid()]
    return groups


class CpuByComponent:
    """CPU seconds per component since it was made, polled often enough to count processes
    that come and go meanwhile (Celery pool children): each process's CPU at its last sighting,
    less what it had at the start.

    PostgreSQL: the backends of this run's database alive at a poll, plus what the postmaster
    has reaped since the start, less what the backends alive at the start had then
    (``_meters.PostgresCpu``): a backend that serves one request and exits (``CONN_MAX_AGE`` 0)
    lives between two polls and only the reaped part counts it."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.postgres = PostgresCpu(PG_URL, urlsplit(topology.database_url).path.lstrip("/"))
        self.start: dict[int, int] = {}
        self.last: dict[int, tuple[str, int]] = {}
        for kind, pids in _components(topology).items():
            for pid in pids:
                self.start[pid] = cpu_ticks(pid)
                self.last[pid] = (kind, self.start[pid])
        self.postgres_start = self.postgres.live() + self.postgres.reaped()

    def poll(self) -> dict[str, float]:
        for kind, pids in _components(self.topology).items():
            for pid in pids:
                ticks = cpu_ticks(pid)
                if ticks:
                    self.last[pid] = (kind, max(ticks, self.last.get(pid, (kind, 0))[1]))
        out = dict.fromkeys(("asgi", "celery", "haproxy", "postgres", "redis", "load generator"), 0.0)
        for pid, (kind, ticks) in self.last.items():
            out[kind] += (ticks - self.start.get(pid, 0)) / CLK_TCK
        out["postgres"] = self.postgres.live() + self.postgres.reaped() - self.postgres_start
        return out

    def close(self) -> None:
        self.postgres.close()


# --- a run at N --------------------------------------------------------------------------


def _queue_depth(redis_url: str) -> int:
    import redis

    try:
        return int(redis.Redis.from_url(redis_url, socket_connect_timeout=2).llen("celery"))
    except redis.RedisError:
        return -1


def run_at(
    n: int,
    seconds: float,
    topology: Topology,
    key: str,
    media: dict,
    redis_url: str,
    every_frame: bool = False,
    round_id: int | None = None,
) -> dict:
    results = {
        "ack": [],
        "upload": [],
        "flag": [],
        "bytes": 0,
        "frames_sent": 0,
        "frames_unchanged": 0,
        "sockets": 0,
        "reconnects": 0,
        "socket_failures": 0,
        "upload_failures": [],
        "start_failures": [],
    }
    meter = CpuByComponent(topology)
    depth: list[int] = []
    candidates = [
        Candidate(
            n if round_id is None else round_id, i, topology.url, key, media, seconds, results, every_frame
        )
        for i in range(n)
    ]
    for index, candidate in enumerate(candidates):
        candidate.start()
        if index % 10 == 9:
            time.sleep(0.2)  # not all in the same millisecond
    started = time.monotonic()
    while any(c.is_alive() for c in candidates):
        depth.append(_queue_depth(redis_url))
        meter.poll()
        time.sleep(1)
    # Let analysis drain: the time it takes is the lag left at the end.
    drain_started = time.monotonic()
    while _queue_depth(redis_url) > 0 and time.monotonic() - drain_started < 120:
        meter.poll()
        time.sleep(0.5)
    drain = time.monotonic() - drain_started
    wall = time.monotonic() - started
    results["cpu"] = meter.poll()
    meter.close()
    results["depth"] = depth
    results["drain"] = drain
    results["wall"] = wall
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", default="5,10,20,40,80", help="comma-separated N to run, in order")
    parser.add_argument(
        "--stop-at-bend",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stop after the first N at which analysis no longer keeps up",
    )
    parser.add_argument("--seconds", type=float, default=60, help="each candidate's session length")
    parser.add_argument("--asgi", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-dir", type=Path, help="keep the topology's logs here")
    parser.add_argument(
        "--every-frame",
        action="store_true",
        help="send every frame (the widget before it kept unchanged frames back)",
    )
    args = parser.parse_args()
    counts = [int(x) for x in args.candidates.split(",") if x.strip()]
    if not (shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()):
        _skip("HAProxy is not installed (apt-get install haproxy)")
    try:
        import websockets  # noqa: F401
    except ImportError:
        _skip("the websockets package is not installed (pip install -r requirements-dev.txt)")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proctorme.settings")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    media = _media()
    bare_ms = _bare_ms_per_frame(media["present"][0][0])
    cores = os.cpu_count() or 1
    parts = urlsplit(PG_URL)
    database_url = urlunsplit(("postgres", parts.netloc, f"/{DB_PREFIX}_{uuid.uuid4().hex[:8]}", "", ""))
    topology = Topology(
        database_url=database_url,
        redis_url=REDIS_URL,
        asgi=args.asgi,
        workers=args.workers,
        port=free_port(),
        temporary_database=True,
        log_dir=args.log_dir,
    )
    started_pids: list[int] = []
    try:
        with topology:
            started_pids = [pid for _, proc in topology.procs for pid in _tree(proc.pid)]
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
            created = subprocess.run(
                [sys.executable, "manage.py", "create_institution", "Bench", "--domain", "bench.example"],
                cwd=ROOT,
                env=topology.env(),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            key = next(
                line.split(": ", 1)[1] for line in created.splitlines() if line.startswith("publishable_key")
            )
            print(
                f"topology: HAProxy -> {args.asgi} ASGI servers, {args.workers} Celery worker(s) + beat, "
                f"PostgreSQL, Redis, on {cores} cores shared with the load generator"
            )
            print(
                f"baseline (same run): bare full-range detector {bare_ms:.1f} ms CPU per frame -> at 1 frame/s "
                f"a core could analyse at most {1000 / bare_ms:.0f} candidates if detection were all there is"
            )
            print()
            header = (
                f"{'N':>4} {'held':>5} {'upload':>28} {'signal ack':>28} {'flag from capture':>24} "
                f"{'queue max/end':>13} {'drain':>6} {'CPU s/cand-min':>14} {'cand/core':>9} {'keeps up':>8} "
                f"{'load':>5}"
            )
            print(header)
            # Two candidates for 20 s first, not counted: the worker loads its models on its first
            # task, once per process, which is not a per-candidate cost.
            run_at(2, 20, topology, key, media, REDIS_URL, args.every_frame, round_id=0)
            rows = []
            sustained = None
            for n in counts:
                result = run_at(n, args.seconds, topology, key, media, REDIS_URL, args.every_frame)
                cpu = result["cpu"]
                total = sum(cpu.values()) - cpu.get("load generator", 0)
                per_cand_min = total / max(1, n) / (args.seconds / 60)
                # Candidates one core sustains, all server components included, at this N.
                per_core = n * args.seconds / max(total, 1e-9) if total else float("inf")
                depth = result["depth"] or [0]
                flags = sorted(result["flag"])
                flag_p99 = flags[min(len(flags) - 1, int(len(flags) * 0.99))] if flags else float("inf")
                keeps = flag_p99 <= FLAG_P99_LIMIT and result["drain"] <= DRAIN_LIMIT
                print(
                    f"{n:>4} {result['sockets']:>5} {_pcts(result['upload']):>28} {_pcts(result['ack']):>28} "
                    f"{_pcts_s(result['flag']):>24} {max(depth):>6}/{depth[-1]:<6} {result['drain']:>5.1f}s "
                    f"{per_cand_min:>14.2f} {per_core:>9.0f} {'yes' if keeps else 'NO':>8} "
                    f"{os.getloadavg()[0]:>5.1f}"
                )
                rows.append((n, result))
                if keeps:
                    sustained = (n, per_core)
                elif args.stop_at_bend:
                    break
            print()
            for n, result in rows:
                cpu = result["cpu"]
                parts_cpu = ", ".join(f"{k} {v:.1f} s" for k, v in cpu.items())
                failures = (
                    len(result["upload_failures"]) + len(result["start_failures"]) + result["socket_failures"]
                )
                print(
                    f"N={n}: CPU over {result['wall']:.0f} s: {parts_cpu}; {result['bytes'] / 1e6:.1f} MB uploaded; "
                    f"{result['frames_sent']} frames sent, {result['frames_unchanged']} kept back unchanged, "
                    f"uploaded every {result.get('upload_every', 0):g} s; "
                    f"Celery (analysis) {cpu['celery'] / max(1, n) / (args.seconds / 3600):.1f} "
                    f"CPU-s per candidate-hour; "
                    f"{result['reconnects']} reconnects; {failures} failed calls"
                    + (
                        f" (uploads {sorted(set(result['upload_failures']))}, starts {result['start_failures']}, "
                        f"sockets {result['socket_failures']})"
                        if failures
                        else ""
                    )
                )
            if sustained:
                print(
                    f"sustained: {sustained[0]} candidates with analysis keeping up (the highest N tried that "
                    f"did), {sustained[1]:.0f} per core all-in at that N"
                )
            print(
                "cand/core: candidates one core carries with every server component counted "
                "(N x seconds / server CPU-seconds); flag from capture: FACE_ABSENCE at the widget "
                "minus the moment its 5-s minimum was reached"
            )
    except TopologyError as exc:
        _skip(str(exc).splitlines()[0])
    return _cleanup_check(started_pids, database_url)


def _cleanup_check(pids: list[int], database_url: str) -> int:
    """After the run: no process the topology started is alive, its database is gone."""
    import psycopg

    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists() and _state(pid) != "Z"]
    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    print(
        f"cleanup: {len(pids)} processes started, {len(alive)} still running"
        + (f" ({alive})" if alive else "")
        + f"; database {name} {'STILL THERE' if left else 'dropped'}"
    )
    return 1 if alive or left else 0


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


if __name__ == "__main__":
    sys.exit(main())
