"""An upload's fixed cost in the ASGI server: Django's middleware chain on threads, or on the loop.

Under ASGI a request's middlewares cost thread hops. A sync-only middleware (``RequestIdMiddleware``
and WhiteNoise's, before) makes Django run it and every middleware above it on a thread and hop
back to the event loop for the async ones below; and Django's own middlewares (``MiddlewareMixin``)
run each ``process_request`` and ``process_response`` through ``sync_to_async``, a hop to the
request's thread and back: 16 hops a widget upload before its view's. Three servers in the same
run, each a uvicorn process as ``deploy/topology.py`` starts it (``DATABASE_POOL=20``) against
the same database:

* ``baseline``: the chain as it was (``bench/_sync_chain_settings.py``, ``BENCH_CHAIN=baseline``);
* ``async-capable``: only ``RequestIdMiddleware`` and WhiteNoise async-capable (``proctorme.logs``,
  ``proctorme.staticfiles``), Django's middlewares their own;
* ``change``: ``proctorme.settings``, Django's middlewares as ``proctorme.middleware`` runs them
  (on the loop unless they have I/O to do): the view's is the request's one hop.

All three take their uploads at the same time: ``--sessions`` widget sessions each, a warm-up,
then ``--uploads`` uploads of one frame each (the widget's multipart body) to each server in
turn from ``--concurrency`` client threads, so load from the rest of the machine falls on all
alike. Printed: each server's CPU per upload, the upload latency, PostgreSQL's CPU per upload
(all three together: the chain does not change the queries), then change / baseline.
``--profile DIR`` also records each server with py-spy (``pip install py-spy``; ``PY_SPY``, default
the ``py-spy`` on PATH; ``--gil``, so CPU, not waits) as collapsed stacks in DIR.

Measured (``BENCH_REDIS_URL=redis://127.0.0.1:6379/5 nice .venv/bin/python bench/request_chain.py``,
1,500 uploads to each server, 2 cores shared with other test runs):

    server CPU per upload        baseline   async-capable     change    change / baseline
    run 1 (load average 21)      11.95 ms    11.65 (0.98x)    9.74 ms    0.82x (p50 0.93x)
    run 2 (load average 17-24)   11.87 ms    11.37 (0.96x)    9.48 ms    0.80x (p50 0.85x)

PostgreSQL 3.3 and 3.0 ms per upload, the same whatever the chain. Hops per widget upload (the
view's and the handler's around the chain aside): 16 baseline, 17 async-capable, 0 change.

Environment: ``BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432``), ``BENCH_REDIS_URL``
(default ``redis://127.0.0.1:6379/13``; emptied at the end). The run's database, its servers and
the queued tasks are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _meters import PostgresCpu, cpu_seconds, require_services, skip  # noqa: E402
from db_pool import Server, _frame, _start_sessions, migrate_with_institution, upload_frame  # noqa: E402

from deploy.topology import ASGI_DATABASE_POOL  # noqa: E402

PG_URL = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PY_SPY = os.environ.get("PY_SPY") or shutil.which("py-spy") or "py-spy"
# name: (settings module, environment, what it is)
SIDES = {
    "baseline": ("bench._sync_chain_settings", {"BENCH_CHAIN": "baseline"}, "baseline: as before"),
    "async-capable": (
        "bench._sync_chain_settings",
        {"BENCH_CHAIN": "async-capable"},
        "request id, WhiteNoise async-capable",
    ),
    "change": ("proctorme.settings", {}, "change: all on the loop"),
}


class Side:
    """One server of the run, its sessions and the next sequence number of each."""

    def __init__(self, name: str, env: dict, key: str, args, log_dir: Path) -> None:
        self.name = name
        module, extra, _ = SIDES[name]
        server_env = {**env, **extra, "DJANGO_SETTINGS_MODULE": module}
        self.server = Server(server_env, ASGI_DATABASE_POOL, log_dir, name)
        self.sessions = _start_sessions(self.server, key, args.sessions, name)
        self.seqs = dict.fromkeys(range(len(self.sessions)), 0)
        self.latencies: list[float] = []
        self.failures: list[int] = []


def _uploads(sides: list[Side], frame: bytes, count: int, concurrency: int) -> None:
    """``count`` uploads to each side, in turn (upload i to side i mod the number of sides), so
    the servers take their uploads at the same time, under the same load from the rest of the
    machine."""
    lock = threading.Lock()
    todo = iter(range(count * len(sides)))

    def work() -> None:
        while True:
            with lock:
                index = next(todo, None)
                if index is None:
                    return
                side = sides[index % len(sides)]
                which = (index // len(sides)) % len(side.sessions)
                side.seqs[which] += 1
                seq = side.seqs[which]
            status, seconds = upload_frame(side.sessions[which], seq, frame)
            with lock:
                side.latencies.append(seconds)
                if status != 202:
                    side.failures.append(status)

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _spy(args, side: Side) -> subprocess.Popen:
    args.profile.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            PY_SPY,
            "record",
            "--pid",
            str(side.server.proc.pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--gil",
            "--nonblocking",
            "-o",
            str(args.profile / f"{side.name}.txt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _measure(env: dict, key: str, args, meter, log_dir: Path) -> dict:
    sides: list[Side] = []
    spies: list[subprocess.Popen] = []
    try:
        for name in SIDES:
            sides.append(Side(name, env, key, args, log_dir))
        frame = _frame()
        _uploads(sides, frame, args.warmup, args.concurrency)
        for side in sides:
            side.latencies.clear()
            side.failures.clear()
        if args.profile:
            spies = [_spy(args, side) for side in sides]
            time.sleep(1.0)
        pg0 = meter.live() + meter.reaped()
        cpu0 = [cpu_seconds(side.server.proc.pid) for side in sides]
        wall0 = time.perf_counter()
        _uploads(sides, frame, args.uploads, args.concurrency)
        wall = time.perf_counter() - wall0
        cpu = [cpu_seconds(side.server.proc.pid) - c for side, c in zip(sides, cpu0, strict=True)]
        time.sleep(1.2)
        pg = meter.live() + meter.reaped() - pg0
        return {
            "wall": wall,
            "pg_ms": 1000 * pg / (args.uploads * len(sides)),
            "sides": {
                side.name: {
                    "server_ms": 1000 * c / args.uploads,
                    "failures": side.failures,
                    "latencies": sorted(side.latencies),
                }
                for side, c in zip(sides, cpu, strict=True)
            },
        }
    finally:
        for spy in spies:
            spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
            try:
                spy.wait(timeout=20)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        for side in sides:
            side.server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=1500, help="measured uploads to each side")
    parser.add_argument("--warmup", type=int, default=100, help="uploads to each side before measuring")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", type=Path, help="write py-spy's collapsed stacks of each side here")
    args = parser.parse_args()

    try:
        import psycopg
        import redis
    except ImportError as exc:
        skip(f"{exc.name} is not installed")
    require_services(PG_URL, REDIS_URL)
    if args.profile and not Path(PY_SPY).exists():
        skip(f"--profile: no py-spy at {PY_SPY}")

    database = f"proctorme_chain_{os.getpid()}"
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "DATABASE_URL": f"{PG_URL}/{database}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": "http://127.0.0.1",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "TASKS_MODE": "celery",
        "DJANGO_SETTINGS_MODULE": "proctorme.settings",
    }
    env.pop("PROCTORME_TESTING", None)
    meter = None
    try:
        with tempfile.TemporaryDirectory(prefix="proctorme-chain-") as log_dir:
            key = migrate_with_institution(env, "Chain bench")
            meter = PostgresCpu(PG_URL, database)
            print(
                f"request_chain: {len(SIDES)} uvicorn processes at once ({', '.join(SIDES)}), {args.uploads} uploads "
                f"of one frame to each, alternating ({args.warmup} each before, unmeasured), from "
                f"{args.concurrency} client threads over {args.sessions} sessions a server, "
                f"DATABASE_POOL={ASGI_DATABASE_POOL}, PostgreSQL, Redis; {os.cpu_count()} cores, "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            result = _measure(env, key, args, meter, Path(log_dir))
    finally:
        if meter is not None:
            meter.close()
        with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        redis.Redis.from_url(REDIS_URL).flushdb()

    print("                                          server ms  p50 ms  p99 ms")
    for side, r in result["sides"].items():
        latencies = r["latencies"]
        r["p50"] = 1000 * statistics.median(latencies)
        r["p99"] = 1000 * latencies[int(0.99 * (len(latencies) - 1))]
        print(
            f"  {SIDES[side][2]:<39} {r['server_ms']:>8.2f} {r['p50']:>7.1f} {r['p99']:>7.1f}"
            f"   ({len(latencies) - len(r['failures'])} of {len(latencies)} accepted)"
        )
    before, middle, after = (result["sides"][side] for side in SIDES)
    print(
        f"  PostgreSQL, all servers together: {result['pg_ms']:.2f} ms per upload; {result['wall']:.1f} s, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"  change / baseline (same run, same time): server CPU per upload "
        f"{after['server_ms'] / before['server_ms']:.2f}x ({before['server_ms']:.2f} -> "
        f"{after['server_ms']:.2f} ms); p50 {after['p50'] / before['p50']:.2f}x; the request id and "
        f"WhiteNoise async-capable alone {middle['server_ms'] / before['server_ms']:.2f}x"
    )
    print(f"cleanup: database {database} dropped, {REDIS_URL} emptied, the servers stopped")
    return 1 if any(r["failures"] for r in result["sides"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
