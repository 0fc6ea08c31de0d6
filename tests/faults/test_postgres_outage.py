"""Fault, on purpose: PostgreSQL unavailable for a few seconds in the middle of a
session. Against the production configuration (HAProxy, daphne, a Celery worker,
Redis) on a PostgreSQL cluster of this test's own: while it is down the widget's
calls get a coded 503 with Retry-After (never a 500) and retry; once it is back,
every signal acknowledged and every upload accepted is stored exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import require
from tests.faults.support import (
    FrameBatches,
    db_counts,
    multipart,
    request,
    signals,
    start_session,
    upload_until_accepted,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PG_BIN = (
    next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
    if Path("/usr/lib/postgresql").exists()
    else None
)


class OwnPostgres:
    """A PostgreSQL cluster of this test's own (initdb in a temporary folder), stopped and started at will."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="proctorme-pg-"))
        self.data = self.dir / "data"
        self.user = "postgres" if os.geteuid() == 0 else None  # the server refuses to run as root

    def _run(self, *argv: str) -> None:
        command = [str(PG_BIN / argv[0]), *argv[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if self.user:
            shutil.chown(self.dir, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-l", str(self.dir / "log"), "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/proctorme"


def test_postgres_down_for_a_while_gives_coded_503s_and_loses_nothing_acknowledged(tmp_path, redis_url):
    require(PG_BIN is not None, "PostgreSQL server binaries are not installed (/usr/lib/postgresql/*/bin)")
    require(bool(shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()), "HAProxy is not installed")
    from deploy.topology import Topology, free_port

    own = OwnPostgres(free_port())
    own.init()
    own.start()
    parts = urlsplit(redis_url)
    topology = Topology(
        database_url=own.url,
        redis_url=urlunsplit((parts.scheme, parts.netloc, "/15", "", "")),
        asgi=1,
        workers=1,
        port=free_port(),
        log_dir=tmp_path / "logs",
    )
    try:
        with topology:
            env, started = start_session(topology)
            batch = FrameBatches(started).batch
            acked: set[int] = set()
            codes = upload_until_accepted(started, batch(1))
            asyncio.run(signals(started, range(1, 6), acked))

            own.stop()
            down_at = time.monotonic()
            body, content_type = multipart(batch(6))
            status, answer = request(
                started["uploadUrl"],
                data=body,
                headers={"Authorization": f"Bearer {started['token']}", "Content-Type": content_type},
            )
            assert status == 503, (status, answer)
            assert answer["error"]["code"] == "SERVICE_UNAVAILABLE"
            own.start()
            codes += upload_until_accepted(started, batch(6))
            asyncio.run(signals(started, range(6, 11), acked))
            recovered = time.monotonic() - down_at

            assert acked == set(range(1, 11))
            assert 500 not in codes, codes
            counts = db_counts(env, started["sessionId"])
            assert counts["signals"] == list(range(1, 11)), counts
            assert counts["frames"] == list(range(1, 11)), counts
            print(
                f"PostgreSQL down: coded 503s, nothing lost; widget calls succeeded again {recovered:.1f} s after it stopped"
            )
    finally:
        topology.stop()
        own.remove()
