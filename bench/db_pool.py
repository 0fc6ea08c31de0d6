"""Widget uploads through one ASGI server, with and without a database connection pool.

Without a pool (``DATABASE_POOL=0``, the baseline) every request opens a PostgreSQL connection of
its own and closes it at the end: a backend is forked and started per request. With one
(``DATABASE_POOL=20``, what ``make run-prod`` gives each ASGI server) a request takes a pooled
connection and gives it back. Both sides run in the same run against the same database: one
uvicorn process started as ``deploy/topology.py`` starts it, ``--sessions`` widget sessions
started through it, then ``--uploads`` uploads of one frame each (the widget's multipart body,
spread over the sessions) from ``--concurrency`` client threads.

Printed for each side: the server's CPU and PostgreSQL's per upload (PostgreSQL: the run
database's live backends plus what the postmaster reaped meanwhile, as ``bench/ws_load.py``
counts it), the PostgreSQL sessions opened per upload (``pg_stat_database.sessions``, exact
whatever else the machine does) and the upload latency; then pooled / baseline.

Environment: ``BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432``), ``BENCH_REDIS_URL``
(default ``redis://127.0.0.1:6379/13``; analysis tasks the uploads queue are deleted at the end,
no worker runs). The run's database, its server and the queued tasks are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _meters import PostgresCpu, cpu_seconds, require_services, skip  # noqa: E402

from deploy.topology import ASGI_DATABASE_POOL, asgi_server_command, free_port  # noqa: E402

PG_URL = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
DOMAIN = "exams.dbpool.test"
ORIGIN = f"https://{DOMAIN}"


def _request(url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Origin": ORIGIN, **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _multipart(meta: dict, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n'
            f"{json.dumps({'items': [meta]})}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="{meta["part"]}"; '
            f'filename="{meta["part"]}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _frame() -> bytes:
    import cv2
    import numpy as np

    picture = np.full((240, 320, 3), 120, np.uint8)
    cv2.circle(picture, (160, 110), 40, (90, 140, 200), -1)
    return cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 60])[1].tobytes()


class Server:
    def __init__(self, env: dict, pool: int, log_dir: Path, name: str = "") -> None:
        self.port = free_port()
        log_name = f"asgi-{name or f'pool-{pool}'}.log"
        self.log = open(log_dir / log_name, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            asgi_server_command(sys.executable, host="127.0.0.1", port=self.port),
            cwd=ROOT,
            env={**env, "DATABASE_POOL": str(pool)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the ASGI server exited with {self.proc.returncode}: see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310 (loopback)
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the ASGI server did not answer /healthz within 60 s") from None
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def migrate_with_institution(env: dict, name: str) -> str:
    """Migrate the run's database (``env``) and create an institution for ``DOMAIN`` in it: its
    API key."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    created = subprocess.run(
        [sys.executable, "manage.py", "create_institution", name, "--domain", DOMAIN],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(w for w in created.split() if w.startswith("pk_"))


def upload_frame(started: dict, seq: int, frame: bytes) -> tuple[int, float]:
    """One detection frame uploaded as the widget sends it, to a session ``_start_sessions``
    started: the response's status and the seconds it took."""
    meta = {
        "part": f"f{seq}",
        "kind": "frame",
        "seq": seq,
        "capturedAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    body, content_type = _multipart(meta, frame)
    t0 = time.perf_counter()
    status, _ = _request(
        started["uploadUrl"],
        body,
        {"Authorization": f"Bearer {started['token']}", "Content-Type": content_type},
    )
    return status, time.perf_counter() - t0


def _start_sessions(server: Server, key: str, count: int, label: str) -> list[dict]:
    started = []
    for index in range(count):
        config = {
            "apiKey": key,
            "assessmentId": "pool",
            "assessmentTitle": "Pool",
            "candidateId": f"{label}-{index}",
            "candidateEmail": f"{label}-{index}@dbpool.test",
            "candidateFirstName": "C",
            "candidateLastName": str(index),
            "institutionName": "Pool bench",
            "examDuration": 3600,
        }
        status, body = _request(
            f"{server.url}/widget/v1/sessions",
            json.dumps({"dialect": "eye", "config": config}).encode(),
            {"Content-Type": "application/json"},
        )
        if status != 201:
            raise RuntimeError(f"a session start answered {status}")
        started.append(body)
    return started


def _side(env: dict, pool: int, key: str, args, meter: PostgresCpu, log_dir: Path) -> dict:
    server = Server(env, pool, log_dir)
    try:
        sessions = _start_sessions(server, key, args.sessions, f"p{pool}")
        frame = _frame()
        seqs = dict.fromkeys(range(len(sessions)), 0)
        lock = threading.Lock()
        latencies: list[float] = []
        failures: list[int] = []
        todo = iter(range(args.uploads))

        def work() -> None:
            while True:
                with lock:
                    index = next(todo, None)
                    if index is None:
                        return
                    which = index % len(sessions)
                    seqs[which] += 1
                    seq = seqs[which]
                status, seconds = upload_frame(sessions[which], seq, frame)
                with lock:
                    latencies.append(seconds)
                    if status != 202:
                        failures.append(status)

        threads = [threading.Thread(target=work) for _ in range(args.concurrency)]
        pg0, sessions0 = meter.live() + meter.reaped(), meter.sessions()
        cpu0, wall0 = cpu_seconds(server.proc.pid), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - wall0
        server_cpu = cpu_seconds(server.proc.pid) - cpu0
        time.sleep(1.2)  # the backends' statistics reach pg_stat_database within a second
        pg1, sessions1 = meter.live() + meter.reaped(), meter.sessions()
        latencies.sort()
        return {
            "pool": pool,
            "uploads": args.uploads,
            "failures": failures,
            "wall": wall,
            "server_ms": 1000 * server_cpu / args.uploads,
            "pg_ms": 1000 * (pg1 - pg0) / args.uploads,
            "sessions_per_upload": (sessions1 - sessions0) / args.uploads,
            "p50": 1000 * statistics.median(latencies),
            "p99": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        }
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=600)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--pool", type=int, default=ASGI_DATABASE_POOL, help="the pooled side's DATABASE_POOL"
    )
    args = parser.parse_args()

    try:
        import psycopg
        import redis
    except ImportError as exc:
        skip(f"{exc.name} is not installed")
    require_services(PG_URL, REDIS_URL)

    database = f"proctorme_dbpool_{os.getpid()}"
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "DJANGO_SETTINGS_MODULE": "proctorme.settings",
        "DATABASE_URL": f"{PG_URL}/{database}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": "http://127.0.0.1",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "TASKS_MODE": "celery",
        "DATABASE_CONN_MAX_AGE": "0",
    }
    env.pop("PROCTORME_TESTING", None)
    meter = None
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="proctorme-dbpool-") as log_dir:
            key = migrate_with_institution(env, "Pool bench")
            meter = PostgresCpu(PG_URL, database)
            print(
                f"db_pool: one uvicorn process, {args.uploads} uploads of one frame from "
                f"{args.concurrency} client threads over {args.sessions} sessions, PostgreSQL, "
                f"Redis; {os.cpu_count()} cores"
            )
            for pool in (0, args.pool):
                results.append(_side(env, pool, key, args, meter, Path(log_dir)))
    finally:
        if meter is not None:
            meter.close()
        with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        redis.Redis.from_url(REDIS_URL).flushdb()

    print("                                   server ms  postgres ms  total ms  PG sessions  p50 ms  p99 ms")
    for r in results:
        name = "before: a connection per request" if r["pool"] == 0 else f"after: a pool of {r['pool']}"
        print(
            f"  {name:<33} {r['server_ms']:>8.2f} {r['pg_ms']:>11.2f} {r['server_ms'] + r['pg_ms']:>9.2f}"
            f" {r['sessions_per_upload']:>9.2f}/up {r['p50']:>7.1f} {r['p99']:>7.1f}"
            f"   ({r['uploads'] - len(r['failures'])} of {r['uploads']} accepted, {r['wall']:.1f} s;"
            f" load average {os.getloadavg()[0]:.1f})"
        )
    before, after = results
    total = lambda r: r["server_ms"] + r["pg_ms"]  # noqa: E731
    print(
        f"  after / before (same run): CPU per upload (server + postgres) {total(after) / total(before):.2f}x "
        f"({total(before):.2f} -> {total(after):.2f} ms; server {after['server_ms'] / before['server_ms']:.2f}x, "
        f"postgres {after['pg_ms'] / max(before['pg_ms'], 1e-9):.2f}x); p99 {after['p99'] / before['p99']:.2f}x"
    )
    print(f"cleanup: database {database} dropped, {REDIS_URL} emptied, the servers stopped")
    return 1 if any(r["failures"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
