"""The production topology on one machine, from this checkout.

    .venv/bin/python deploy/topology.py [--asgi N] [--workers M] [--port 8000]
                                        [--database URL | --temporary-database]

PostgreSQL and Redis are used as they are on the machine (``DATABASE_URL``,
``REDIS_URL``; a clear error names whichever does not answer). Then:
migrations, ``collectstatic``, N uvicorn processes (``asgi_server_command``, one
per core by default) behind HAProxy from Debian's packages on ``--port`` (HTTP and
WebSockets, health-checked on ``/healthz``), M Celery workers and one Celery
beat. Every process is a child of this one, in its own process group; on
SIGINT/SIGTERM all of them are stopped (a child that dies is started again, as a
service manager would; one that keeps dying stops the whole topology), and a
``--temporary-database`` is dropped, so nothing is left behind.

No Django import here: this file only starts processes, so it can run before
the environment is configured and never holds a database connection itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
# The ASGI server: uvicorn with httptools (HTTP), websockets' sans-I/O protocol (WebSockets)
# and uvloop, in place of daphne (Twisted and autobahn): beside daphne in the same run it holds
# idle sockets for half the CPU and resumes a reconnect storm in two thirds of the time, though a
# signal's CPU fell only ~6 % (most of that is the write path's, not the server's); the figures
# and commands are in docs/operations.md. ``make run`` (runserver) still uses daphne.
#
# Keepalive: a ping every 30 s to each socket, closed if no pong within 15 s, so a dead peer is
# closed within 30 + 15 = 45 s; the widget's own heartbeat (a ping message every 15 s,
# static/proctorme/src/transport.js) gives up on a silent server after 45 s, and HAProxy's
# ``timeout tunnel`` (deploy/haproxy.cfg) is never the one that notices.
WS_PING_INTERVAL_SECONDS = 30
WS_PING_TIMEOUT_SECONDS = 15
# A frame larger than this is refused by the server (close 1009) before the application sees
# it: 4 x the consumer's 16 KiB limit in characters (sessions.consumers.MAX_MESSAGE_BYTES), the
# most such a text takes in UTF-8, so every frame the consumer answers with its own refusal
# still reaches it.
WS_MAX_BYTES = 64 * 1024
# Seconds a stopping server waits for its sockets' consumers and requests to finish; within
# Topology.stop's 15 s before SIGKILL.
GRACEFUL_SHUTDOWN_SECONDS = 10
ASGI_APPLICATION = "proctorme.asgi:application"
# Connections in each ASGI server's pool (DATABASE_POOL): at most this many of its requests hold
# one at once, the others wait for one (up to DATABASE_POOL_TIMEOUT, 10 s). Two servers and a
# worker stay well inside PostgreSQL's default max_connections (100).
ASGI_DATABASE_POOL = 20


def asgi_server_command(
    python: str,
    *,
    host: str,
    port: int,
    app: str = ASGI_APPLICATION,
    trusted_proxies: str = "127.0.0.1,::1",
    ping_interval: float = WS_PING_INTERVAL_SECONDS,
    ping_timeout: float = WS_PING_TIMEOUT_SECONDS,
) -> list[str]:
    """The command line of one ASGI server (the Dockerfile's CMD says the same: keep them in step).

    ``trusted_proxies``: the addresses whose X-Forwarded-For / X-Forwarded-Proto are believed
    (the load balancer's); anyone else's are ignored. No permessage-deflate: the widget's
    messages are a few hundred bytes, and each compressed socket keeps zlib's state.
    """
    return [
        python,
        "-m",
        "uvicorn",
        "--http",
        "httptools",
        "--ws",
        "websockets-sansio",
        "--loop",
        "uvloop",
        "--lifespan",
        "off",
        "--ws-ping-interval",
        f"{ping_interval:g}",
        "--ws-ping-timeout",
        f"{ping_timeout:g}",
        "--ws-max-size",
        str(WS_MAX_BYTES),
        "--ws-per-message-deflate",
        "false",
        "--proxy-headers",
        "--forwarded-allow-ips",
        trusted_proxies,
        "--timeout-graceful-shutdown",
        str(GRACEFUL_SHUTDOWN_SECONDS),
        "--no-server-header",
        "--host",
        host,
        "--port",
        str(port),
        app,
    ]


DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/proctorme"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

HAPROXY_CONFIG = """\
global
    maxconn {maxconn}
    log stdout format raw local0 warning

defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    # WebSockets: an upgraded connection lives as long as the widget's socket;
    # the widget sends a heartbeat well inside this.
    timeout tunnel 1h
    timeout client-fin 5s

frontend proctorme
    bind {bind}:{port}
    http-request del-header X-Forwarded-For
    option forwardfor
    http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}
    http-request set-header X-Forwarded-Proto http if !{{ ssl_fc }}
    default_backend asgi

backend asgi
    balance leastconn
    option httpchk GET /livez
    http-check expect status 200
    default-server inter 2s fall 3 rise 1 maxconn {server_maxconn}
{servers}
"""


class TopologyError(RuntimeError):
    """A part the topology needs is missing or did not start (the message names it)."""


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on: from ``PORT_RANGE`` (``8700-8999``) when set, else any.

    Never the same one twice in a process: the server given the last one may not listen yet.
    """
    wanted = os.environ.get("PORT_RANGE", "").strip()
    candidates = [0] * 8
    if wanted:
        low, _, high = wanted.partition("-")
        candidates = list(range(int(low), int(high or low) + 1))
        random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise TopologyError(f"no free port in PORT_RANGE={wanted}" if wanted else "no free port")


def _postgres_admin_url(database_url: str) -> tuple[str, str]:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if parts.scheme not in {"postgres", "postgresql"} or not name:
        raise TopologyError(
            f"DATABASE_URL must be a PostgreSQL URL with a database name, not {database_url!r}"
        )
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    return admin, name


def check_postgres(database_url: str) -> None:
    import psycopg

    admin, _ = _postgres_admin_url(database_url)
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TopologyError(
            f"PostgreSQL does not answer at {urlsplit(database_url).netloc} ({first}): start it, or set DATABASE_URL"
        ) from None


def check_redis(redis_url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise TopologyError(
            f"Redis does not answer at {redis_url} ({exc}): start it, or set REDIS_URL"
        ) from None


def ensure_database(database_url: str) -> bool:
    """Create the database if it is missing; True when this call created it."""
    import psycopg
    from psycopg import sql

    admin, name = _postgres_admin_url(database_url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def drop_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    admin, name = _postgres_admin_url(database_url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one kept in var/ (0600) so logins survive restarts."""
    path = ROOT / "var" / "prod-secret-key"
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _own_group_dies_with_parent() -> None:
    """In the child, before exec: a process group of its own (stopped as one), and SIGTERM
    from the kernel if this process dies without stopping it (killed, crashed), so a
    killed run-prod or test never leaves servers, workers or the balancer behind."""
    import ctypes

    os.setsid()
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _haproxy_maxconn(wanted: int = 20000) -> int:
    """HAProxy needs about two descriptors a connection and refuses to start above the hard limit."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return wanted
    return max(256, min(wanted, (hard - 200) // 2))


def find_haproxy() -> str:
    path = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if not path:
        raise TopologyError("HAProxy is not installed: apt-get install haproxy (Debian's package)")
    return path


@dataclass
class Topology:
    """Starts and stops the whole production topology; use as a context manager."""

    database_url: str
    redis_url: str
    asgi: int = 2
    workers: int = 1
    port: int = 8000
    bind: str = "127.0.0.1"
    temporary_database: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    python: str = sys.executable

    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list, init=False)
    restarts: dict[str, list[float]] = field(default_factory=dict, init=False)
    _specs: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _supervisor: threading.Thread | None = field(default=None, init=False)
    _fatal: str | None = field(default=None, init=False)
    asgi_ports: list[int] = field(default_factory=list, init=False)
    _created_db: bool = field(default=False, init=False)
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, init=False)

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Topology:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.bind}:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "TASKS_MODE": "celery",
                "DJANGO_SETTINGS_MODULE": "proctorme.settings",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.setdefault("SITE_URL", self.url)
        env.setdefault("SECRET_KEY", _secret_key())
        env.setdefault("ALLOWED_HOSTS", f"{self.bind},localhost,127.0.0.1")
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        haproxy = find_haproxy()
        check_postgres(self.database_url)
        check_redis(self.redis_url)
        self._created_db = ensure_database(self.database_url)
        if self.log_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="proctorme-topology-")
            self.log_dir = Path(self._tmp.name)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        for step in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
            done = subprocess.run(
                [self.python, "manage.py", *step], cwd=ROOT, env=env, capture_output=True, text=True
            )
            if done.returncode:
                raise TopologyError(f"manage.py {step[0]} failed:\n{done.stderr.strip()[-2000:]}")
        # An ASGI server's requests take a connection from its pool and give it back at the end,
        # rather than each opening one (a PostgreSQL backend forked per upload; proctorme/env.py).
        asgi_env = {"DATABASE_POOL": str(ASGI_DATABASE_POOL), **env}
        for index in range(self.asgi):
            port = free_port()
            self.asgi_ports.append(port)
            self._spawn(
                f"asgi-{index + 1}", asgi_server_command(self.python, host="127.0.0.1", port=port), asgi_env
            )
        # A worker's one thread keeps its connection between tasks (proctorme/env.py: the ASGI
        # servers may not, their views run on threads of their own).
        worker_env = {"DATABASE_CONN_MAX_AGE": "60", **env}
        for index in range(self.workers):
            self._spawn(
                f"worker-{index + 1}",
                [self.python, "-m", "celery", "-A", "proctorme", "worker", "-l", "warning"]
                + ["--concurrency", "1", "-n", f"worker{index + 1}@%h"],
                worker_env,
            )
        schedule = self.log_dir / "celerybeat-schedule"
        self._spawn(
            "beat",
            [self.python, "-m", "celery", "-A", "proctorme", "beat", "-l", "warning", "-s", str(schedule)],
            worker_env,
        )
        for port in self.asgi_ports:
            self._wait_http(f"http://127.0.0.1:{port}/healthz", what=f"the ASGI server on port {port}")
        config = self.log_dir / "haproxy.cfg"
        servers = "\n".join(
            f"    server asgi{i + 1} 127.0.0.1:{port} check" for i, port in enumerate(self.asgi_ports)
        )
        config.write_text(
            HAPROXY_CONFIG.format(
                bind=self.bind,
                port=self.port,
                servers=servers,
                maxconn=_haproxy_maxconn(),
                server_maxconn=10000,
            )
        )
        checked = subprocess.run([haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
        if checked.returncode:
            raise TopologyError(f"HAProxy refused its configuration:\n{checked.stderr.strip()}")
        self._spawn("haproxy", [haproxy, "-W", "-db", "-f", str(config)], env)
        self._wait_http(f"{self.url}/healthz", what=f"HAProxy on port {self.port}")
        self._supervisor = threading.Thread(target=self._supervise, name="topology-supervisor", daemon=True)
        self._supervisor.start()

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self._specs[name] = (argv, env)
        proc = self._popen(name)
        with self._lock:
            self.procs.append((name, proc))

    def _popen(self, name: str) -> subprocess.Popen:
        assert self.log_dir is not None
        argv, env = self._specs[name]
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        try:
            return subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_own_group_dies_with_parent,
            )
        finally:
            log.close()

    # A process that dies is started again, as systemd's Restart=always or a container
    # restart policy would (a Celery worker exits, for one, when it loses Redis); one
    # that dies more than MAX_RESTARTS times in RESTART_WINDOW seconds stops the topology.
    MAX_RESTARTS = 5
    RESTART_WINDOW = 60.0

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            with self._lock:
                for index, (name, proc) in enumerate(self.procs):
                    if proc.poll() is None or self._stopping.is_set():
                        continue
                    now = time.monotonic()
                    recent = [t for t in self.restarts.get(name, []) if now - t < self.RESTART_WINDOW]
                    if len(recent) >= self.MAX_RESTARTS:
                        self._fatal = f"{name} keeps exiting ({proc.returncode}):\n{self.log_tail(name)}"
                        return
                    self.restarts[name] = [*recent, now]
                    with open(self.log_dir / f"{name}.log", "ab") as log:
                        log.write(f"\n--- exited with {proc.returncode}; started again ---\n".encode())
                    self.procs[index] = (name, self._popen(name))

    def _wait_http(self, url: str, *, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.3)
        raise TopologyError(f"{what} did not answer {url} with 200 within {timeout:.0f} s ({last})")

    def check_alive(self) -> None:
        if self._fatal:
            raise TopologyError(self._fatal)
        if self._supervisor is not None:
            return  # the supervisor restarts what dies
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = self.log_tail(name)
                raise TopologyError(f"{name} exited with {proc.returncode}:\n{tail}")

    def log_tail(self, name: str, lines: int = 20) -> str:
        if self.log_dir is None:
            return ""
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def pids(self) -> list[int]:
        with self._lock:
            return [proc.pid for _, proc in self.procs]

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
            self._supervisor = None
        # Load balancer first (no new connections), then servers, then workers.
        for _, proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for _, proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.procs.clear()
        if self.temporary_database and self._created_db:
            drop_database(self.database_url)
            self._created_db = False
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--asgi", type=int, default=os.cpu_count() or 1, help="ASGI server processes (one per core)"
    )
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--bind", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument(
        "--temporary-database",
        action="store_true",
        help="drop the database at the end if this run created it",
    )
    parser.add_argument("--log-dir", type=Path, default=ROOT / "var" / "prod-logs")
    args = parser.parse_args(argv)
    if args.asgi < 1 or args.workers < 1:
        parser.error("--asgi and --workers must be at least 1")

    stop = {"signal": None}

    def _on_signal(signum, _frame):
        stop["signal"] = signum

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    topology = Topology(
        database_url=args.database,
        redis_url=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        asgi=args.asgi,
        workers=args.workers,
        port=args.port,
        bind=args.bind,
        temporary_database=args.temporary_database,
        log_dir=args.log_dir,
    )
    try:
        with topology:
            print(f"Proctorme (production topology) on {topology.url}", flush=True)
            print(
                f"  HAProxy :{topology.port} -> uvicorn {', '.join(map(str, topology.asgi_ports))}",
                flush=True,
            )
            print(f"  {args.workers} Celery worker(s), 1 beat; logs in {topology.log_dir}", flush=True)
            print(f"  pids: {' '.join(map(str, topology.pids()))}", flush=True)
            while stop["signal"] is None:
                topology.check_alive()
                time.sleep(0.5)
            print("stopping", flush=True)
    except TopologyError as exc:
        print(f"run-prod: {exc}", file=sys.stderr, flush=True)
        return 1
    print(
        "stopped: every process ended" + (", database dropped" if args.temporary_database else ""), flush=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
