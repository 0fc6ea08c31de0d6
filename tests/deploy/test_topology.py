"""`make run-prod`'s topology, started for real: HAProxy in front of two ASGI server
processes, a Celery worker and beat, on PostgreSQL and Redis. A widget session
is started and a signal acknowledged through the load balancer; stopping the
topology leaves no process and (with --temporary-database) no database behind."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ORIGIN = "https://exams.topology.test"


def _database_url() -> str:
    base = os.environ.get("DATABASE_URL", "")
    require(
        base.startswith(("postgres://", "postgresql://")), "PostgreSQL is not configured (set DATABASE_URL)"
    )
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/pm_topology_{uuid.uuid4().hex[:8]}", "", ""))


def _redis_url() -> str:
    base = os.environ.get("REDIS_URL", "")
    require(bool(base), "Redis is not configured (set REDIS_URL)")
    # A database of its own: the topology's worker must not take the suite's tasks.
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/11", "", ""))


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Origin": ORIGIN},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        assert response.status == 201
        return json.loads(response.read())


async def _signal_acknowledged(started: dict) -> dict:
    import websockets

    async with websockets.connect(started["wsUrl"], origin=ORIGIN, open_timeout=10) as socket:
        await socket.send(json.dumps({"type": "auth", "token": started["token"]}))
        hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert hello["type"] == "hello"
        await socket.send(
            json.dumps(
                {"type": "signal", "seq": 1, "event": "COPY_PASTE", "at": hello["serverTime"], "payload": {}}
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if message["type"] == "ack":
                return message


def _eye_config(key: str, candidate: str) -> dict:
    return {
        "dialect": "eye",
        "config": {
            "apiKey": key,
            "assessmentId": "final",
            "assessmentTitle": "Final",
            "candidateId": candidate,
            "candidateEmail": f"{candidate}@topology.test",
            "candidateFirstName": "C",
            "candidateLastName": candidate,
            "institutionName": "Topology U",
            "examDuration": 600,
        },
    }


def _sessions_established(database_url: str) -> int:
    """PostgreSQL sessions ever opened on the topology's database (pg_stat_database, 14+), read
    from another database so that reading them opens none there."""
    import psycopg

    admin = urlunsplit(("postgresql", urlsplit(database_url).netloc, "/postgres", "", ""))
    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [name]).fetchone()
    return int(row[0])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for every purpose but the process table.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_the_production_topology_serves_through_the_load_balancer_and_cleans_up():
    require(bool(shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()), "HAProxy is not installed")
    from deploy.topology import ASGI_DATABASE_POOL, Topology, drop_database, free_port

    database_url = _database_url()
    topology = Topology(
        database_url=database_url,
        redis_url=_redis_url(),
        asgi=2,
        workers=1,
        port=free_port(),
        temporary_database=True,
    )
    try:
        with topology:
            env = topology.env()
            created = subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "create_institution",
                    "Topology U",
                    "--domain",
                    "exams.topology.test",
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            key = re.search(r"publishable_key: (pk_\S+)", created).group(1)
            started = _post(f"{topology.url}/widget/v1/sessions", _eye_config(key, "c-1"))
            # The server saw the load balancer's address and port, not its own.
            assert started["wsUrl"].startswith(f"ws://127.0.0.1:{topology.port}/")
            ack = asyncio.run(_signal_acknowledged(started))
            assert ack["seq"] == 1 and not ack.get("duplicate")

            # The ASGI servers' requests share each server's connection pool: 30 more session
            # starts open a handful of PostgreSQL sessions, not one each (DATABASE_POOL).
            before = _sessions_established(database_url)
            for index in range(30):
                _post(f"{topology.url}/widget/v1/sessions", _eye_config(key, f"c-{index + 2}"))
            opened = _sessions_established(database_url) - before
            assert opened <= 2 * ASGI_DATABASE_POOL and opened < 10, opened
            pids = topology.pids()
            assert len(pids) == 5  # 2 ASGI servers, 1 worker, 1 beat, HAProxy
            assert all(_alive(pid) for pid in pids)
    finally:
        with __import__("contextlib").suppress(Exception):
            drop_database(database_url)
    assert not any(_alive(pid) for pid in pids)
    import psycopg

    admin = urlunsplit(("postgresql", urlsplit(database_url).netloc, "/postgres", "", ""))
    with psycopg.connect(admin) as conn:
        name = urlsplit(database_url).path.lstrip("/")
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None
