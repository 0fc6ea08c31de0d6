"""Fault, on purpose: Redis (channel layer, broker and cache) restarted in the
middle of a session, with everything it held lost (no persistence). Against the
production configuration (HAProxy, daphne, a Celery worker, PostgreSQL, a Redis
server of this test's own): every signal acknowledged and every upload accepted
before, during and after the restart is stored exactly once, and the uploads are
analysed once Redis is back.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import require
from tests.faults.support import (
    FrameBatches,
    OwnRedis,
    db_counts,
    signals,
    start_session,
    upload_until_accepted,
    upload_until_accepted_after,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_redis_restart_mid_session_loses_no_acknowledged_signal_or_upload(tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    require(bool(shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()), "HAProxy is not installed")
    base = os.environ.get("DATABASE_URL", "")
    require(
        base.startswith(("postgres://", "postgresql://")), "PostgreSQL is not configured (set DATABASE_URL)"
    )
    from deploy.topology import Topology, drop_database, free_port

    parts = urlsplit(base)
    database_url = urlunsplit((parts.scheme, parts.netloc, f"/pm_faults_{uuid.uuid4().hex[:8]}", "", ""))
    own = OwnRedis(free_port())
    own.start()
    topology = Topology(
        database_url=database_url,
        redis_url=own.url,
        asgi=1,
        workers=1,
        port=free_port(),
        temporary_database=True,
        log_dir=tmp_path / "logs",
        # The sweeps that catch up after the outage, every few seconds instead of every minute.
        extra_env={"PROCTORME_SWEEP_SECONDS": "3", "PROCTORME_ANALYSIS_PENDING_GRACE": "3"},
    )
    try:
        with topology:
            env, started = start_session(topology)
            batch = FrameBatches(started).batch

            acked: set[int] = set()
            codes: list[int] = []
            codes += upload_until_accepted(started, batch(1))
            asyncio.run(signals(started, range(1, 11), acked))

            own.stop()  # Redis gone, and everything it held with it
            codes += upload_until_accepted_after(own, started, batch(6))
            asyncio.run(signals(started, range(11, 21), acked))
            codes += upload_until_accepted(started, batch(11))

            assert acked == set(range(1, 21))
            assert 500 not in codes, codes
            counts = db_counts(env, started["sessionId"])
            assert counts["signals"] == list(range(1, 21)), counts  # each acknowledged signal once
            assert counts["frames"] == list(range(1, 16)), counts  # each accepted upload once
            deadline = time.monotonic() + 60
            while counts["unanalysed"] and time.monotonic() < deadline:
                time.sleep(1)
                counts = db_counts(env, started["sessionId"])
            assert counts["unanalysed"] == 0, counts
            print(
                f"Redis restarted: nothing lost; every upload analysed {time.monotonic() - own.back_at:.1f} s "
                f"after Redis was back; upload answers {codes}; worker restarts {len(topology.restarts.get('worker-1', []))}"
            )
    finally:
        own.stop()
        drop_database(database_url)
