"""Many concurrent widget WebSockets against the production configuration.

A fresh PostgreSQL database, the production ASGI server (uvicorn, as
``deploy/topology.py`` runs it, with ``proctorme.asgi:application``) with channels-redis, sessions made through ``sessions.services.session_start`` and
sockets on ``/ws/widget/`` that authenticate as the widget does and send
``COPY_PASTE`` signals (each one an event, its flag pushed back to the widget and
to the dashboards, the session row locked and updated: the real path) at a
fixed total rate. Three parts, each printed beside its baseline from the same run:

* **load**, twice on fresh servers: first with one transaction per signal on the
  thread pool (``SIGNAL_BATCHING=0``, the write path before batching), then with
  the default coalesced writes; sockets held, signals/s acknowledged, the ack
  latency (send -> ack, p50/p99/max) against one socket on the idle server, the
  CPU of the ASGI servers, PostgreSQL, Redis and the generator, CPU ms per acknowledged
  signal, and the after/before ratios; with ``--before-root`` also on the servers of another
  checkout (its own ASGI server and options, as its deploy/topology.py ran them);
* **reconnect storm** (after the coalesced load, and after the other checkout's): every socket cut at once with one
  signal in flight, all reconnecting at once as the widget does (authenticate,
  hello, resend what has no ack); how long until each resumed, and what the
  database holds: every session's signals 1..n, none lost, none doubled;
* **idle**: ``--idle-sockets`` (10,000) sockets opened and held with the widget's
  heartbeat (a ping every 15 s), spread over generator processes of at most
  2,500 sockets each: held, still open, pong latency, server memory per socket (with
  ``--before-root`` on the other checkout's servers too, and the ratio).

Figures only: nothing is asserted on time. Skips (exit 0) without PostgreSQL or Redis.
The database, the servers, the generator processes and the channel-layer keys of
the run are gone when it ends.

    .venv/bin/python bench/ws_load.py [--sockets 2000] [--rate 200] [--duration 30]
                                      [--servers 2] [--clients 1] [--no-compare] [--no-storm]
                                      [--idle-sockets 10000] [--idle-seconds 30]
                                      [--before-root <another checkout>] [--before-server none]
                                      [--after-first]

The baselines' loads run first and this checkout's last; ``--after-first`` runs this checkout
first (the same ratios, the other way round in time), to see that a change's ratio does not come
from the order on a machine whose other work changes from minute to minute.

By default the load, the storm and the idle sockets also run on this checkout served by daphne,
the production server before uvicorn (``--before-server daphne``), and print uvicorn's figures
as ratios against it.

Limits: each socket is a file descriptor in a generator process and in a server;
the run raises its open-file limit to the hard limit (``ulimit -Hn``; 10,000
sockets over 2 servers need ~5,000 each) and says so when that is short. All
sockets come from 127.0.0.1 to a few ports, well inside the ephemeral port
range (``/proc/sys/net/ipv4/ip_local_port_range``, printed).
Environment: ``BENCH_PG`` (libpq URL of the server, default
``postgresql://postgres@127.0.0.1:5432``), ``BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/12``), ``BENCH_DB_PREFIX`` (the run's database is
``<prefix>_<pid>``, default ``proctorme_wsbench``), ``PORT_RANGE`` (e.g. ``8700-8999``: the
servers' ports come from it), ``BENCH_ASGI_APP`` (default
``proctorme.asgi:application``: another one to measure a change without editing the server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import multiprocessing as mp
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _meters import CLK_TCK, PostgresCpu, cpu_seconds, require_services, skip  # noqa: E402

from deploy.topology import ASGI_DATABASE_POOL, asgi_server_command, free_port  # noqa: E402

PG_URL = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
ASGI_APP = os.environ.get("BENCH_ASGI_APP", "proctorme.asgi:application")
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "proctorme_wsbench")
DOMAIN = "bench.example"
ORIGIN = f"https://{DOMAIN}"
CONNECT_CONCURRENCY = 50
STORM_CONCURRENCY = 500  # sockets of one generator process in their opening handshake at once
HEARTBEAT_SECONDS = 15.0  # the widget's ping interval (static/proctorme/src/transport.js)
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")
# daphne's access log, and uvicorn's (its access log and its own INFO lines: started, stopped, socket opened).
ACCESS_LOG_LINE = re.compile(r'"(WSCONNECTING|WSCONNECT|WSDISCONNECT|WSREJECT|GET|POST|WebSocket) |^INFO: ')


# --- prerequisites, database, server ---------------------------------------------------------


def _prerequisites() -> None:
    try:
        import websockets  # noqa: F401
    except ImportError:
        skip("the websockets package is not installed (pip install -r requirements-dev.txt)")
    require_services(PG_URL, REDIS_URL)


def _raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else max(soft, min(hard, 1 << 20))
    if target != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target != resource.RLIM_INFINITY and target < needed:
        print(f"note: the open-file limit is {target}, fewer than the {needed} this run needs")
    return target


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _setup(db_name: str, n_sessions: int, secret_key: str) -> dict:
    """Migrate the fresh database and create ``n_sessions`` active sessions; their tokens.

    The first session goes through ``session_start`` (the widget's real path);
    the others are copies of it made with ``bulk_create`` (one ``session_start``
    is ~12 ms, over a minute for 3,000 on a busy machine) and get their tokens
    from ``session_token_make`` like any started session.
    """
    os.environ.update(
        DJANGO_SETTINGS_MODULE="proctorme.settings",
        DATABASE_URL=f"{PG_URL}/{db_name}",
        SECRET_KEY=secret_key,
        # Setup only: delayed tasks (session expiry) are not queued anywhere, and
        # the start broadcast stays in this process (no REDIS_URL here).
        TASKS_MODE="sync",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections, transaction

    from sessions.config import parse_eye
    from sessions.models import Candidate, ProctoringSession
    from sessions.services import session_start
    from sessions.tokens import session_token_make
    from tenants.services import institution_create

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter() - t0
    institution, publishable, _ = institution_create(name="WS bench", domains=[DOMAIN])
    t0 = time.perf_counter()
    config = {
        "apiKey": publishable,
        "assessmentId": "ws-bench",
        "assessmentTitle": "WebSocket load",
        "candidateId": "c0",
        "candidateEmail": "c0@bench.example",
        "candidateFirstName": "Bench",
        "candidateLastName": "C0",
        "institutionName": "WS bench",
        "examDuration": 3 * 3600,
    }
    first = session_start(request=parse_eye(config), origin=ORIGIN).session
    with transaction.atomic():
        candidates = Candidate.objects.bulk_create(
            Candidate(
                institution=institution,
                external_id=f"c{i}",
                email=f"c{i}@bench.example",
                first_name="Bench",
                last_name=f"C{i}",
            )
            for i in range(1, n_sessions)
        )
        sessions = [first] + ProctoringSession.objects.bulk_create(
            ProctoringSession(
                institution=institution,
                assessment_id=first.assessment_id,
                candidate=candidate,
                attempt_id=f"eye:ws-bench:{candidate.external_id}",
                dialect=first.dialect,
                origin=ORIGIN,
                config=first.config,
                deadline_at=first.deadline_at,
                last_seen_at=first.last_seen_at,
            )
            for candidate in candidates
        )
    tokens = [session_token_make(session=session, origin=ORIGIN) for session in sessions]
    created = time.perf_counter() - t0
    connections.close_all()
    return {
        "tokens": tokens,
        "session_ids": [session.pk for session in sessions],
        "migrated": migrated,
        "created": created,
    }


def _redis_asgi_keys() -> set[bytes]:
    import redis

    return set(redis.Redis.from_url(REDIS_URL).scan_iter(match="asgi*", count=1000))


def _redis_forget(before: set[bytes]) -> None:
    """Delete the channel-layer keys this run left (groups of consumers still busy at shutdown,
    a receive queue's in-flight backup), i.e. those that were not there before it."""
    import redis

    left = sorted(_redis_asgi_keys() - before)
    client = redis.Redis.from_url(REDIS_URL)
    for i in range(0, len(left), 500):
        client.delete(*left[i : i + 500])


def _start_servers(
    count: int,
    db_name: str,
    secret_key: str,
    log_dir: Path,
    extra_env: dict,
    label: str,
    root: Path = ROOT,
    server: str = "topology",
) -> list[tuple]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proctorme.settings",
        "DATABASE_URL": f"{PG_URL}/{db_name}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        # As make run-prod runs them: each server's requests and consumers share a connection pool.
        "DATABASE_POOL": os.environ.get("BENCH_DATABASE_POOL", str(ASGI_DATABASE_POOL)),
        "DATABASE_CONN_MAX_AGE": "0",
        **extra_env,
    }
    for name in ("TASKS_MODE", "PROCTORME_TESTING"):
        env.pop(name, None)  # production: Celery on Redis
    servers = []
    for _ in range(count):
        port = free_port()
        log = open(log_dir / f"asgi-{label.split(':')[0]}-{len(STARTED_PIDS)}.log", "wb")  # noqa: SIM115 (closed in _stop_servers)
        proc = subprocess.Popen(
            _server_command(root, port, server),
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        servers.append((proc, port, log))
        STARTED_PIDS.append(proc.pid)
    deadline = time.monotonic() + 60
    for proc, port, log in servers:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the ASGI server exited with {proc.returncode}: see {log.name}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the ASGI server did not listen on {port} within 60 s") from None
                time.sleep(0.2)
    return servers


# How the storm and idle lines name each side.
SIDE = {"other": "the other checkout", "daphne": "daphne", "batched": "after (uvicorn)"}
# daphne as the production topology ran it before uvicorn (``--before-server daphne``).
DAPHNE_OPTIONS = ["--ping-interval", "30", "--ping-timeout", "15"]


def _server_command(root: Path, port: int, server: str = "topology") -> list[str]:
    """The ASGI server as ``root`` deploys it (its deploy/topology.py), listening on ``port``;
    ``server="daphne"``: daphne with the options production ran it with before uvicorn.

    A checkout from before ``asgi_server_command`` ran daphne with its ``DAPHNE_OPTIONS`` (none
    there: daphne's defaults)."""
    if server == "daphne":
        daphne = str(Path(sys.executable).parent / "daphne")
        return [daphne, *DAPHNE_OPTIONS, "-b", "127.0.0.1", "-p", str(port), ASGI_APP]
    if root.resolve() == ROOT:
        return asgi_server_command(sys.executable, host="127.0.0.1", port=port, app=ASGI_APP)
    topology = root / "deploy" / "topology.py"
    text = topology.read_text() if topology.exists() else ""
    if "def asgi_server_command(" in text:
        spec = importlib.util.spec_from_file_location(f"_topology_{abs(hash(str(root)))}", topology)
        module = importlib.util.module_from_spec(spec)
        # Registered first: its dataclasses look their module up in sys.modules as they are made.
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module.asgi_server_command(sys.executable, host="127.0.0.1", port=port, app=ASGI_APP)
    found = re.search(r"^DAPHNE_OPTIONS = (\[.*\])$", text, re.M)
    options = json.loads(found.group(1)) if found else []
    daphne = str(Path(sys.executable).parent / "daphne")
    return [daphne, *options, "-b", "127.0.0.1", "-p", str(port), ASGI_APP]


def _stop_servers(servers: list[tuple]) -> None:
    for proc, _, _ in servers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, _, log in servers:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --- resource figures --------------------------------------------------------------------------


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _machine_busy_seconds() -> float:
    """CPU seconds spent by every process on the machine (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def _redis_cpu() -> float:
    import redis

    info = redis.Redis.from_url(REDIS_URL).info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


class CpuMeter:
    """CPU seconds of the servers, their PostgreSQL backends, Redis and the generator.

    PostgreSQL: the bench database's backends alive at a sample plus what the postmaster has
    reaped (``_meters.PostgresCpu``). A backend that lives for one query (``SIGNAL_BATCHING=0``
    opens a connection per signal, ``CONN_MAX_AGE`` 0) is counted only by the second term;
    polling live backends alone missed it and read 0.00 ms.
    """

    def __init__(self, server_pids: list[int], db_name: str, client_pids: list[int]) -> None:
        self.server_pids, self.client_pids = server_pids, client_pids
        self.postgres = PostgresCpu(PG_URL, db_name)

    def close(self) -> None:
        self.postgres.close()

    def sample(self) -> dict[str, float]:
        live, reaped = self.postgres.live(), self.postgres.reaped()
        return {
            "server": sum(cpu_seconds(p) for p in self.server_pids),
            "postgres": live + reaped,
            "pg_exited": reaped,
            "redis": _redis_cpu(),
            "client": sum(cpu_seconds(p) for p in self.client_pids),
            "machine": _machine_busy_seconds(),
            "wall": time.monotonic(),
        }

    @staticmethod
    def share(a: dict, b: dict) -> dict[str, float]:
        wall = b["wall"] - a["wall"]
        out = {k: 100 * (b[k] - a[k]) / wall for k in a if k != "wall"}
        out["others"] = max(
            0.0, out["machine"] - sum(out[k] for k in ("server", "postgres", "redis", "client"))
        )
        return out


# --- the load generator (runs in its own process or processes) --------------------------------


def _signal(seq: int) -> str:
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
    message = {"type": "signal", "seq": seq, "event": "COPY_PASTE", "at": at, "payload": {"action": "copy"}}
    return json.dumps(message, separators=(",", ":"))


class Sock:
    __slots__ = ("ws", "seq", "pending", "hello", "reader", "target", "ping_at")

    def __init__(self, ws, target: tuple[str, str]) -> None:
        self.ws, self.seq, self.pending, self.target = ws, 0, {}, target
        self.hello = asyncio.get_running_loop().create_future()
        self.reader = None
        self.ping_at: float | None = None


class Generator:
    def __init__(self, uris: list[tuple[str, str]]) -> None:
        self.uris = uris
        self.socks: list[Sock] = []
        self.latencies: list[float] = []
        self.errors: Counter = Counter()
        self.closes: Counter = Counter()
        self.flags = 0
        self.recording = False
        self.closing = False
        self.last_ack = 0.0
        self.pongs: list[float] = []

    async def _read(self, sock: Sock) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in sock.ws:
                now = time.perf_counter()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ack":
                    sent = sock.pending.pop(message.get("seq"), None)
                    if sent is not None and self.recording:
                        self.latencies.append(now - sent)
                        self.last_ack = now
                elif kind == "flag":
                    self.flags += 1
                elif kind == "pong":
                    if sock.ping_at is not None:
                        self.pongs.append(now - sock.ping_at)
                        sock.ping_at = None
                elif kind == "hello":
                    if not sock.hello.done():
                        sock.hello.set_result(message)
                elif kind == "error":
                    self.errors[message.get("code")] += 1
        except ConnectionClosed:
            pass
        finally:
            if not self.closing:  # the server (or the network) closed it
                self.closes[sock.ws.close_code] += 1
            if not sock.hello.done():
                sock.hello.set_exception(ConnectionError(f"closed with {sock.ws.close_code} before hello"))

    async def _open(
        self, target: tuple[str, str], gate: asyncio.Semaphore, times: list[float]
    ) -> Sock | None:
        from websockets.asyncio.client import connect

        uri, token = target
        async with gate:
            t0 = time.perf_counter()
            try:
                ws = await connect(
                    uri, origin=ORIGIN, compression=None, proxy=None, ping_interval=None, open_timeout=30
                )
                await ws.send(json.dumps({"type": "auth", "token": token}))  # as the widget: not in the URL
            except Exception as exc:  # count every failure kind
                self.errors[f"connect: {type(exc).__name__}"] += 1
                return None
            sock = Sock(ws, target)
            sock.reader = asyncio.create_task(self._read(sock))
            try:
                await asyncio.wait_for(sock.hello, 30)
            except Exception as exc:
                self.errors[f"hello: {type(exc).__name__}"] += 1
                await ws.close()
                return None
            times.append(time.perf_counter() - t0)
            return sock

    async def open_all(self) -> dict:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        times: list[float] = []
        t0 = time.perf_counter()
        opened = await asyncio.gather(*(self._open(uri, gate, times) for uri in self.uris))
        self.socks = [s for s in opened if s is not None]
        return {"held": len(self.socks), "seconds": time.perf_counter() - t0, "times": times}

    async def load(self, rate: float, start_at: float, duration: float, drain: float = 15.0) -> dict:
        """Send ``rate`` signals/s in total, round-robin over the sockets, from wall time ``start_at``."""
        loop = asyncio.get_running_loop()
        lags: list[float] = []
        stop = asyncio.Event()

        async def lag_probe() -> None:
            while not stop.is_set():
                t = loop.time()
                await asyncio.sleep(0.01)
                lags.append(loop.time() - t - 0.01)

        await asyncio.sleep(max(0.0, start_at - time.time()))
        probe = asyncio.create_task(lag_probe())
        self.recording = True
        socks = [s for s in self.socks if s.ws.state.name == "OPEN"]
        cpu0, t0 = time.process_time(), time.perf_counter()
        sent, i = 0, 0
        while socks:
            elapsed = time.perf_counter() - t0
            if elapsed >= duration:
                break
            due = int(rate * elapsed) + 1 - sent
            for _ in range(due):
                sock = socks[i % len(socks)]
                i += 1
                sock.seq += 1
                sock.pending[sock.seq] = time.perf_counter()
                try:
                    await sock.ws.send(_signal(sock.seq))
                except Exception:
                    sock.pending.pop(sock.seq, None)
                    self.errors["send failed"] += 1
                    continue
                sent += 1
            await asyncio.sleep(max(0.0, (sent / rate) - (time.perf_counter() - t0)))
        sending = time.perf_counter() - t0
        drain_until = time.perf_counter() + drain
        while any(s.pending for s in socks) and time.perf_counter() < drain_until:
            await asyncio.sleep(0.05)
        self.recording = False
        stop.set()
        await probe
        unacked = sum(len(s.pending) for s in socks)
        # What has no ack stays pending, as in the widget: the storm resends it and the database check counts it.
        return {
            "sent": sent,
            "seconds": sending,
            "acked": len(self.latencies),
            "unacked": unacked,
            "ack_span": max(self.last_ack - t0, 1e-9),
            "client_cpu": time.process_time() - cpu0,
            "lags": lags,
        }

    async def heartbeat(self, seconds: float, interval: float) -> dict:
        """Hold every socket for ``seconds``, each sending the widget's ping every ``interval`` s."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        socks = [s for s in self.socks if s.ws.state.name == "OPEN"]

        async def beat(sock: Sock, offset: float) -> None:
            await asyncio.sleep(offset)  # spread over the interval, as independent browsers are
            while loop.time() < end:
                sock.ping_at = time.perf_counter()
                try:
                    await sock.ws.send('{"type":"ping"}')
                except Exception:
                    self.errors["ping failed"] += 1
                    return
                await asyncio.sleep(interval)

        pings = [beat(s, interval * i / max(1, len(socks))) for i, s in enumerate(socks)]
        await asyncio.gather(*pings)
        unanswered = sum(s.ping_at is not None and time.perf_counter() - s.ping_at > 10 for s in socks)
        return {"open": sum(s.ws.state.name == "OPEN" for s in self.socks), "unanswered": unanswered}

    async def storm(self, within: float) -> dict:
        """Cut every socket at once with one signal in flight each, then reconnect them all at once.

        Each one does what the widget does: open a new socket, authenticate, wait for
        hello, resend every signal without an ack. Resumed = hello received and every
        pending signal acknowledged. Returns the seconds each took and every session's last seq.
        """
        from websockets.asyncio.client import connect

        loop = asyncio.get_running_loop()
        socks = [s for s in self.socks if s.ws.state.name == "OPEN"]
        # Start from a quiet server: what the load left unacknowledged is acknowledged first.
        settle = time.perf_counter() + 120
        while any(s.pending for s in socks) and time.perf_counter() < settle:
            await asyncio.sleep(0.1)
        for sock in socks:
            sock.seq += 1
            sock.pending[sock.seq] = time.perf_counter()
            with contextlib.suppress(Exception):
                await sock.ws.send(_signal(sock.seq))
        self.closing = True
        for sock in socks:
            sock.ws.transport.abort()  # the network drops: no close handshake
        await asyncio.gather(*(s.reader for s in socks if s.reader), return_exceptions=True)
        self.closing = False
        t0 = time.perf_counter()
        # Keep going past ``within`` (up to 4x) so that every signal is resent before the database is checked.
        deadline = t0 + 4 * within
        gate = asyncio.Semaphore(STORM_CONCURRENCY)

        async def resume(sock: Sock) -> float | None:
            uri, token = sock.target
            while time.perf_counter() < deadline:
                try:
                    async with gate:
                        ws = await connect(
                            uri,
                            origin=ORIGIN,
                            compression=None,
                            proxy=None,
                            ping_interval=None,
                            open_timeout=30,
                        )
                        await ws.send(json.dumps({"type": "auth", "token": token}))
                        sock.ws, sock.hello = ws, loop.create_future()
                        sock.reader = asyncio.create_task(self._read(sock))
                        await asyncio.wait_for(sock.hello, 30)
                except Exception as exc:
                    self.errors[f"reconnect: {type(exc).__name__}"] += 1
                    await asyncio.sleep(0.5)
                    continue
                for seq in sorted(sock.pending):
                    await ws.send(_signal(seq))
                while sock.pending and time.perf_counter() < deadline and ws.state.name == "OPEN":
                    await asyncio.sleep(0.05)
                if not sock.pending:
                    return time.perf_counter() - t0
            return None

        took = await asyncio.gather(*(resume(s) for s in socks))
        return {
            "dropped": len(socks),
            "took": [t for t in took if t is not None],
            "last_seq": {s.target[1]: s.seq for s in socks},
        }

    def take(self) -> dict:
        out = {
            "latencies": self.latencies,
            "errors": dict(self.errors),
            "closes": {str(k): v for k, v in self.closes.items()},
            "flags": self.flags,
            "pongs": self.pongs,
        }
        self.latencies, self.errors, self.closes, self.flags, self.pongs = [], Counter(), Counter(), 0, []
        return out

    async def close_all(self) -> None:
        self.closing = True

        async def close(sock: Sock) -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sock.ws.close(), 10)
            if sock.reader:
                await asyncio.gather(sock.reader, return_exceptions=True)

        gate = asyncio.Semaphore(200)

        async def gated(sock: Sock) -> None:
            async with gate:
                await close(sock)

        await asyncio.gather(*(gated(s) for s in self.socks))
        self.socks = []


def _client_main(conn, uris: list[tuple[str, str]]) -> None:
    """One generator process: commands from the parent over ``conn``, answers back."""
    _raise_fd_limit(len(uris) + 64)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop

    async def serve() -> None:
        gen = Generator(uris)
        loop = asyncio.get_running_loop()
        while True:
            command, args = await loop.run_in_executor(None, conn.recv)
            if command == "open":
                result = await gen.open_all()
            elif command == "idle":
                await asyncio.sleep(args[0])
                result = {"open": sum(s.ws.state.name == "OPEN" for s in gen.socks)}
            elif command == "load":
                result = await gen.load(*args)
            elif command == "heartbeat":
                result = await gen.heartbeat(*args)
            elif command == "storm":
                result = await gen.storm(*args)
            elif command == "close":
                await gen.close_all()
                result = {}
            else:
                return
            conn.send((result, gen.take()))

    asyncio.run(serve())


class Clients:
    """P generator processes driven in lock-step."""

    def __init__(self, uris: list[tuple[str, str]], processes: int) -> None:
        ctx = mp.get_context("spawn")
        self.conns, self.procs = [], []
        for p in range(processes):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_client_main, args=(child, uris[p::processes]), daemon=True)
            proc.start()
            STARTED_PIDS.append(proc.pid)
            self.conns.append(parent)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def call(self, command: str, *args) -> tuple[list[dict], dict]:
        for conn in self.conns:
            conn.send((command, args))
        answers = [conn.recv() for conn in self.conns]
        merged = {"latencies": [], "errors": Counter(), "closes": Counter(), "flags": 0, "pongs": []}
        for _, part in answers:
            merged["latencies"] += part["latencies"]
            merged["pongs"] += part["pongs"]
            merged["errors"].update(part["errors"])
            merged["closes"].update(part["closes"])
            merged["flags"] += part["flags"]
        return [a for a, _ in answers], merged

    def stop(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(("exit", ()))
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


# --- the run -----------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(values: list[float]) -> str:
    if not values:
        return "      -       -       -"
    return f"{1000 * _pct(values, 0.5):7.1f} {1000 * _pct(values, 0.99):7.1f} {1000 * max(values):7.1f}"


def _problems(merged: dict) -> str:
    parts = [f"{k}×{v}" for k, v in sorted(merged["errors"].items())]
    parts += [f"closed {k}×{v}" for k, v in sorted(merged["closes"].items())]
    return ", ".join(parts) or "none"


def _stored_check(session_ids: list[int], expected: list[int]) -> dict:
    """Per session: events stored for seqs 1..expected, each once? (counted in the database)."""
    from django.db.models import Count, Max

    from sessions.models import Event

    rows = {
        r["session_id"]: r
        for r in Event.objects.filter(session_id__in=session_ids, source="browser")
        .values("session_id")
        .annotate(n=Count("id"), distinct=Count("client_seq", distinct=True), top=Max("client_seq"))
    }
    lost = doubled = 0
    for pk, want in zip(session_ids, expected, strict=True):
        row = rows.get(pk, {"n": 0, "distinct": 0, "top": 0})
        lost += max(0, want - row["distinct"]) + max(0, (row["top"] or 0) - want)
        doubled += row["n"] - row["distinct"]
    return {"lost": lost, "doubled": doubled}


def _load_phase(
    label, args, db_name, secret_key, log_dir, targets, extra_env, root=ROOT, server="topology"
) -> dict:
    """Servers started with ``extra_env``; 1 socket idle-server baseline, then the sockets and the load."""
    servers = _start_servers(args.servers, db_name, secret_key, log_dir, extra_env, label, root, server)
    clients = base = meter = None
    try:
        ports = [port for _, port, _ in servers]
        server_pids = [proc.pid for proc, _, _ in servers]
        uris = [(f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/widget/", t) for i, t in enumerate(targets)]
        rss_idle = sum(_rss_mib(p) for p in server_pids)
        # Baseline: one socket on the otherwise idle server, signals at 10/s (under the rate limit).
        base = Clients(uris[:1], 1)
        base.call("open")
        _, base_merged = base.call("load", 10.0, time.time() + 0.2, args.baseline / 10.0)
        base.call("close")
        base.stop()
        base = None

        clients = Clients(uris[1:], args.clients)
        meter = CpuMeter(server_pids, db_name, clients.pids)
        cpu_a = meter.sample()
        opened, open_merged = clients.call("open")
        cpu_b = meter.sample()
        held = sum(o["held"] for o in opened)
        ramp = max(o["seconds"] for o in opened)
        connect_times = [t for o in opened for t in o["times"]]
        rss_held = sum(_rss_mib(p) for p in server_pids)
        idled, idle_merged = clients.call("idle", args.idle)
        still_open = sum(r["open"] for r in idled)
        out = {
            "label": label,
            "base": base_merged,
            "held": held,
            "ramp": ramp,
            "connect_times": connect_times,
            "open_merged": open_merged,
            "idle_merged": idle_merged,
            "still_open": still_open,
            "rss_idle": rss_idle,
            "rss_held": rss_held,
            "ramp_cpu": CpuMeter.share(cpu_a, cpu_b),
        }
        if held == 0:
            return out
        rss_peak = [rss_held]
        stop_sampling = threading.Event()

        def sample_rss() -> None:
            while not stop_sampling.is_set():
                rss_peak.append(sum(_rss_mib(p) for p in server_pids))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        cpu_c = meter.sample()
        loads, load_merged = clients.call("load", args.rate / args.clients, time.time() + 0.5, args.duration)
        cpu_d = meter.sample()
        stop_sampling.set()
        sampler.join()
        acked = sum(r["acked"] for r in loads)
        load_cpu = CpuMeter.share(cpu_c, cpu_d)
        wall = cpu_d["wall"] - cpu_c["wall"]
        out.update(
            loads=loads,
            load_merged=load_merged,
            rss_peak=max(rss_peak),
            load_cpu=load_cpu,
            per_ack={
                k: 10 * load_cpu[k] * wall / max(acked, 1)
                for k in ("server", "postgres", "pg_exited", "redis")
            },
            load_avg=os.getloadavg()[0],
        )
        if args.storm:
            storms, storm_merged = clients.call("storm", args.storm_within)
            last = {}
            for r in storms:
                last.update(r["last_seq"])
            ids = dict(zip(made_tokens(), made_ids(), strict=True))
            check = _stored_check([ids[t] for t in last], list(last.values()))
            out["storm"] = {
                "dropped": sum(r["dropped"] for r in storms),
                "took": [t for r in storms for t in r["took"]],
                "within": args.storm_within,
                "merged": storm_merged,
                **check,
            }
        clients.call("close")
        return out
    finally:
        for c in (base, clients):
            if c is not None:
                c.stop()
        if meter is not None:
            meter.close()
        _stop_servers(servers)


def _idle_phase(args, db_name, secret_key, log_dir, targets, root=ROOT, server="topology") -> dict:
    """``len(targets)`` sockets opened and held with the widget's heartbeat; memory per socket."""
    servers = _start_servers(
        args.servers, db_name, secret_key, log_dir, {}, f"idle-{len(STARTED_PIDS)}", root, server
    )
    clients = meter = None
    try:
        ports = [port for _, port, _ in servers]
        server_pids = [proc.pid for proc, _, _ in servers]
        uris = [(f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/widget/", t) for i, t in enumerate(targets)]
        clients = Clients(uris, max(args.clients, -(-len(uris) // 2500)))
        meter = CpuMeter(server_pids, db_name, clients.pids)
        rss_before = sum(_rss_mib(p) for p in server_pids)
        opened, open_merged = clients.call("open")
        held = sum(o["held"] for o in opened)
        rss_held = sum(_rss_mib(p) for p in server_pids)
        cpu_a = meter.sample()
        beats, beat_merged = clients.call("heartbeat", args.idle_seconds, HEARTBEAT_SECONDS)
        cpu_b = meter.sample()
        rss_after = sum(_rss_mib(p) for p in server_pids)
        clients.call("close")
        return {
            "wanted": len(uris),
            "held": held,
            "ramp": max(o["seconds"] for o in opened),
            "open_merged": open_merged,
            "beat_merged": beat_merged,
            "still_open": sum(b["open"] for b in beats),
            "unanswered": sum(b["unanswered"] for b in beats),
            "rss_before": rss_before,
            "rss_held": rss_held,
            "rss_after": rss_after,
            "cpu": CpuMeter.share(cpu_a, cpu_b),
            "load_avg": os.getloadavg()[0],
            "processes": len(clients.procs),
        }
    finally:
        if clients is not None:
            clients.stop()
        if meter is not None:
            meter.close()
        _stop_servers(servers)


_MADE: dict = {}
STARTED_PIDS: list[int] = []  # every server and generator process of the run, checked at its end


def _cleanup_check(db_name: str) -> bool:
    """No process of the run left running, its database gone; printed."""
    import psycopg

    alive = []
    for pid in STARTED_PIDS:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.append(pid)
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone()
    print(
        f"cleanup: {len(STARTED_PIDS)} processes started, {len(alive)} still running"
        + (f" ({alive})" if alive else "")
        + f"; database {db_name} {'STILL THERE' if left else 'dropped'}"
    )
    return not alive and not left


def made_tokens() -> list[str]:
    return _MADE["tokens"]


def made_ids() -> list[int]:
    return _MADE["session_ids"]


def _print_phase(args, r: dict) -> None:
    held = r["held"]
    print(f"  {r['label']}")
    print(
        f"    {'ack, idle server, 1 socket':34} {_ms(r['base']['latencies'])}"
        f"   ({len(r['base']['latencies'])} signals at 10/s)"
    )
    if "loads" not in r:
        print(f"    no socket could connect: {_problems(r['open_merged'])}")
        return
    loads, lat = r["loads"], r["load_merged"]["latencies"]
    sent = sum(x["sent"] for x in loads)
    acked = sum(x["acked"] for x in loads)
    seconds = max(x["seconds"] for x in loads)
    ack_span = max(x["ack_span"] for x in loads)
    print(
        f"    {f'ack, {held} sockets, {args.rate:g}/s':34} {_ms(lat)}"
        f"   ({acked} of {sent} sent acked in {seconds:.0f} s + drain)"
    )
    print(f"    {'connect + hello, during ramp':34} {_ms(r['connect_times'])}")
    print(f"    {'generator loop lag (10 ms tick)':34} {_ms([x for one in loads for x in one['lags']])}")
    print(
        f"    sockets held       {held} of {args.sockets} (ramp {r['ramp']:.1f} s, {held / r['ramp']:.0f}/s)"
    )
    print(
        f"    signals acked/s    {acked / ack_span:.1f} (sent {sent / seconds:.1f}/s); "
        f"unacked {sum(x['unacked'] for x in loads)}; flags pushed {r['load_merged']['flags']}"
    )
    print(
        f"    errors, closes     baseline: {_problems(r['base'])}; open: {_problems(r['open_merged'])}; "
        f"{args.idle:g} s idle: {_problems(r['idle_merged'])} ({r['still_open']} still open); "
        f"load: {_problems(r['load_merged'])}"
    )
    print(
        f"    server RSS MiB     idle {r['rss_idle']:.0f} -> {held} sockets {r['rss_held']:.0f} "
        f"-> peak under load {r['rss_peak']:.0f}"
    )
    for name, cpu in (("ramp", r["ramp_cpu"]), ("load", r["load_cpu"])):
        print(
            f"    CPU % of a core, {name}  ASGI {cpu['server']:.0f}, postgres "
            f"{cpu['postgres']:.0f} (exited backends {cpu['pg_exited']:.0f}), redis {cpu['redis']:.0f}, generator {cpu['client']:.0f}; "
            f"other processes {cpu['others']:.0f} (of {100 * (os.cpu_count() or 1)})"
        )
    per = r["per_ack"]
    print(
        f"    CPU ms per ack     ASGI {per['server']:.2f} + postgres {per['postgres']:.2f} = "
        f"{per['server'] + per['postgres']:.2f} (of postgres, backends that exited during the load "
        f"{per['pg_exited']:.2f}; redis {per['redis']:.2f}); load average {r['load_avg']:.1f}"
    )


def _times(after: float, before: float) -> str:
    """after / before as a ratio, or "n/a" when the baseline read no CPU at all (a ratio to
    zero says nothing)."""
    return f"{after / before:.2f}x" if before > 0.005 else "n/a (baseline read 0)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="signals/s in total")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument(
        "--servers",
        type=int,
        default=os.cpu_count() or 1,
        help="ASGI server processes (default: one per core, as deployed)",
    )
    parser.add_argument("--clients", type=int, default=1, help="load-generator processes")
    parser.add_argument("--baseline", type=int, default=50, help="signals on the idle server (1 socket)")
    parser.add_argument(
        "--idle", type=float, default=5.0, help="seconds the loaded sockets are held idle first"
    )
    parser.add_argument(
        "--compare",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="first the same load with one transaction per signal (SIGNAL_BATCHING=0), as the baseline",
    )
    parser.add_argument(
        "--before-root",
        type=Path,
        help="also the same load on servers run from another checkout of the project (e.g. the "
        "previous release, same database schema), as a baseline of a change to the code",
    )
    parser.add_argument(
        "--before-server",
        choices=["daphne", "none"],
        default="daphne",
        help="also the same load, storm and idle sockets on this checkout served by daphne, the "
        "production server before uvicorn, as the server's baseline (none: not)",
    )
    parser.add_argument(
        "--after-first",
        action="store_true",
        help="load this checkout first, then the baselines (the ratios are printed as always)",
    )
    parser.add_argument("--storm", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--storm-within", type=float, default=30.0, help="seconds the storm may take")
    parser.add_argument("--idle-sockets", type=int, default=10000, help="0: no idle phase")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()

    _prerequisites()
    limit = _raise_fd_limit(max(args.sockets, args.idle_sockets // max(1, args.servers)) + 512)
    db_name = f"{DB_PREFIX}_{os.getpid()}"
    secret_key = secrets.token_urlsafe(50)
    log_dir = Path(tempfile.mkdtemp(prefix="ws_load_"))
    redis_before = _redis_asgi_keys()
    failed = True
    phases = (
        (["each"] if args.compare else [])
        + (["other"] if args.before_root else [])
        + (["daphne"] if args.before_server == "daphne" else [])
        + ["batched"]
    )
    per_phase = args.sockets + 1
    _admin(f'CREATE DATABASE "{db_name}"')
    try:
        idle_runs = 1 + bool(args.before_root) + (args.before_server == "daphne")
        made = _setup(db_name, per_phase * len(phases) + idle_runs * args.idle_sockets, secret_key)
        _MADE.update(made)
        tokens = made["tokens"]
        print(
            f"setup: migrate {made['migrated']:.1f} s, {len(tokens)} active sessions "
            f"(session_start + bulk_create) in {made['created']:.1f} s; open-file limit {limit}, "
            f"ephemeral ports {Path('/proc/sys/net/ipv4/ip_local_port_range').read_text().split()}"
        )
        print(
            f"ws_load: {args.servers} ASGI server process(es) (uvicorn), channels-redis, PostgreSQL; "
            f"{args.clients} generator process(es); {os.cpu_count()} cores; COPY_PASTE signals"
        )
        print(f"    {'':34} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}", flush=True)
        by_phase = {}
        # --after-first: this checkout's load first, then the baselines (the ratios as always).
        order = [phases[-1], *phases[:-1]] if args.after_first else phases
        for phase in order:
            n = phases.index(phase)
            targets = tokens[n * per_phase : (n + 1) * per_phase]
            label = {
                "each": "before: one transaction per signal on the thread pool (SIGNAL_BATCHING=0)",
                "other": f"before: the checkout in {args.before_root} (its defaults)",
                "daphne": "before: this checkout on daphne (--ping-interval 30 --ping-timeout 15), as "
                "production ran before uvicorn",
                "batched": "after: coalesced writes, one transaction per few ms per process (the default)",
            }[phase]
            env = {"SIGNAL_BATCHING": "0" if phase == "each" else "1"}
            root = args.before_root.resolve() if phase == "other" else ROOT
            storm = args.storm and phase in ("other", "daphne", "batched")
            by_phase[phase] = _load_phase(
                label,
                argparse.Namespace(**{**vars(args), "storm": storm}),
                db_name,
                secret_key,
                log_dir,
                targets,
                env,
                root,
                "daphne" if phase == "daphne" else "topology",
            )
            _print_phase(args, by_phase[phase])
            sys.stdout.flush()
        results = [by_phase[phase] for phase in phases]
        after = results[-1]
        for phase, before in zip(phases[:-1], results[:-1], strict=True):
            if not ("per_ack" in before and "per_ack" in after):
                continue
            cost = lambda r: r["per_ack"]["server"] + r["per_ack"]["postgres"]  # noqa: E731
            p99 = lambda r: _pct(r["load_merged"]["latencies"], 0.99)  # noqa: E731
            rate = lambda r: sum(x["acked"] for x in r["loads"]) / max(x["ack_span"] for x in r["loads"])  # noqa: E731
            print(
                f"  after / before ({ {'each': 'SIGNAL_BATCHING=0', 'daphne': 'daphne'}.get(phase, args.before_root) }, same run): "
                f"acks/s {rate(after) / rate(before):.2f}x ({rate(before):.1f} -> {rate(after):.1f}); "
                f"CPU per ack (ASGI + postgres) {cost(after) / cost(before):.2f}x "
                f"({cost(before):.2f} -> {cost(after):.2f} ms; ASGI "
                f"{after['per_ack']['server'] / max(before['per_ack']['server'], 1e-9):.2f}x, postgres "
                f"{_times(after['per_ack']['postgres'], before['per_ack']['postgres'])}); "
                f"p99 ack {p99(after) / p99(before):.2f}x ({1000 * p99(before):.0f} -> {1000 * p99(after):.0f} ms)"
            )
        storms = [(phase, r["storm"]) for phase, r in zip(phases, results, strict=True) if r.get("storm")]
        for name, storm in storms:
            took = storm["took"]
            print(
                f"  reconnect storm, {SIDE[name]}: {storm['dropped']} sockets cut at once (one signal each in flight), "
                f"all reconnecting at once: {sum(t <= args.storm_within for t in took)} resumed (hello + every "
                f"unacknowledged signal acknowledged) within {args.storm_within:g} s, {len(took)} in all; "
                f"p50 {_pct(took, 0.5):.1f} s, p99 {_pct(took, 0.99):.1f} s, "
                f"last {max(took, default=float('nan')):.1f} s; in the database: {storm['lost']} lost, "
                f"{storm['doubled']} doubled; {_problems(storm['merged'])}"
            )
        for name, a in storms[:-1]:
            b = storms[-1][1]
            if not (a["took"] and b["took"]):
                continue
            print(
                f"  reconnect storm after / {SIDE[name]} (same run): last resumed {max(b['took']) / max(a['took']):.2f}x "
                f"({max(a['took']):.1f} -> {max(b['took']):.1f} s), p50 "
                f"{_pct(b['took'], 0.5) / _pct(a['took'], 0.5):.2f}x"
            )
        sys.stdout.flush()
        idle_roots = (
            ([("other", args.before_root.resolve(), "topology")] if args.before_root else [])
            + ([("daphne", ROOT, "daphne")] if args.before_server == "daphne" else [])
            + [("batched", ROOT, "topology")]
        )
        idles = []
        for n, (name, root, server) in enumerate(idle_roots if args.idle_sockets else []):
            start = len(phases) * per_phase + n * args.idle_sockets
            idle = _idle_phase(
                args, db_name, secret_key, log_dir, tokens[start : start + args.idle_sockets], root, server
            )
            idle["name"] = name
            idle["per_socket"] = 1024 * (idle["rss_held"] - idle["rss_before"]) / max(idle["held"], 1)
            idles.append(idle)
            cpu = idle["cpu"]
            print(
                f"  idle, {SIDE[name]}: {idle['held']} of {idle['wanted']} sockets held (ramp {idle['ramp']:.0f} s, "
                f"{idle['processes']} generator processes), a ping each every {HEARTBEAT_SECONDS:g} s for "
                f"{args.idle_seconds:g} s: {idle['still_open']} still open, {idle['unanswered']} pings unanswered; "
                f"pong {_ms(idle['beat_merged']['pongs']).split()[0]} / {_ms(idle['beat_merged']['pongs']).split()[1]} "
                f"ms p50/p99; server RSS {idle['rss_before']:.0f} -> {idle['rss_held']:.0f} MiB "
                f"({idle['per_socket']:.0f} KiB per socket); CPU while idle: ASGI {cpu['server']:.0f} %, redis "
                f"{cpu['redis']:.0f} %, postgres {cpu['postgres']:.0f} % of a core; load average {idle['load_avg']:.1f}; "
                f"{_problems(idle['open_merged'])} / {_problems(idle['beat_merged'])}",
                flush=True,
            )
        for a in idles[:-1]:
            b = idles[-1]
            print(
                f"  idle after / {SIDE[a['name']]} (same run): memory per socket {b['per_socket'] / max(a['per_socket'], 1e-9):.2f}x "
                f"({a['per_socket']:.0f} -> {b['per_socket']:.0f} KiB), ASGI CPU while idle "
                f"{b['cpu']['server'] / max(a['cpu']['server'], 1e-9):.2f}x "
                f"({a['cpu']['server']:.0f} -> {b['cpu']['server']:.0f} % of a core)"
            )
        if not all(r["base"]["latencies"] for r in results):
            print(f"no signal was acknowledged; server log in {log_dir}")
            return 1
        failed = False
        return 0
    finally:
        if "django.db" in sys.modules:
            sys.modules["django.db"].connections.close_all()
        _admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        _redis_forget(redis_before)
        _report_server_log(log_dir, keep=failed)
        # A run that leaves something behind fails, whatever it measured (an error in flight goes on).
        if not _cleanup_check(db_name) and sys.exc_info()[0] is None:
            return 1  # noqa: B012


def _report_server_log(log_dir: Path, *, keep: bool) -> None:
    """Summarise what the servers logged besides their access logs (errors, tracebacks); drop the logs."""
    for log in sorted(log_dir.glob("*.log")):
        blocks: list[list[str]] = []
        for line in log.read_text(errors="replace").splitlines():
            if not line.strip() or ACCESS_LOG_LINE.search(line):
                continue
            if LOG_RECORD.match(line) or not blocks:
                blocks.append([line])
            else:
                blocks[-1].append(line)
        # One line per kind of record: its message, where the traceback ended and how it ended.
        kinds = Counter(
            " | ".join(
                [LOG_RECORD.sub("", block[0])[:90]]
                + [x.strip()[:110] for x in block[1:] if x.lstrip().startswith("File ")][-1:]
                + ([block[-1].strip()[:110]] if len(block) > 1 else [])
            )
            for block in blocks
        )
        if kinds:
            print(f"  server log ({log.name}), besides the access log:")
            for text, count in kinds.most_common(6):
                print(f"    {count}× {text}")
        if not keep:
            log.unlink()
    if not keep:
        log_dir.rmdir()


if __name__ == "__main__":
    sys.exit(main())
