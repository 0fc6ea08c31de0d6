"""What the benches share: the services they need, and CPU read off /proc (PostgreSQL's included).

Not a bench itself (``make bench`` runs ``bench/[!_]*.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def skip(reason: str) -> None:
    print(f"skipped: {reason}")
    sys.exit(0)


def require_services(pg_url: str, redis_url: str) -> None:
    """Exit as skipped, saying why, when PostgreSQL at ``pg_url`` or Redis at ``redis_url`` does
    not answer."""
    import psycopg
    import redis

    try:
        psycopg.connect(f"{pg_url}/postgres", connect_timeout=3).close()
    except psycopg.Error as exc:
        skip(f"no PostgreSQL at {pg_url} ({str(exc).strip().splitlines()[0]})")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        skip(f"no Redis at {redis_url} ({exc})")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_ticks(pid: int) -> int:
    """Clock ticks of CPU the process has used (utime + stime); 0 once it is gone."""
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12]) if fields else 0


def cpu_seconds(pid: int) -> float:
    return cpu_ticks(pid) / CLK_TCK


class PostgresCpu:
    """CPU seconds of one database's PostgreSQL backends, counting those that come and go.

    ``live()``: the database's backends alive now. ``reaped()``: the postmaster's own CPU and
    that of every child of it that has exited (cutime + cstime). A backend that serves one
    request and exits lives between two polls: only ``reaped()`` counts it, its fork and start-up
    included. Backends of other databases that exit meanwhile are counted too, so figures are for
    a quiet machine. ``pg_stat_activity`` is read over one connection held for the meter's life,
    so the polling adds no backend that exits.
    """

    def __init__(self, pg_url: str, database: str) -> None:
        import psycopg

        self.database = database
        self.conn = psycopg.connect(f"{pg_url}/postgres", autocommit=True, connect_timeout=3)
        self.postmaster = int(_stat(self.conn.info.backend_pid)[1])  # a backend's parent
        self._live: dict[int, int] = {}

    def live_ticks(self) -> dict[int, int]:
        """Each live backend's ticks; the last poll's view if PostgreSQL cannot answer now."""
        import psycopg

        try:
            rows = self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
            ).fetchall()
        except psycopg.Error:
            return self._live
        self._live = {pid: cpu_ticks(pid) for (pid,) in rows}
        return self._live

    def live(self) -> float:
        return sum(self.live_ticks().values()) / CLK_TCK

    def reaped(self) -> float:
        fields = _stat(self.postmaster)
        return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK if fields else 0.0

    def sessions(self) -> int:
        """PostgreSQL sessions ever opened on the database (pg_stat_database, 14+)."""
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        row = self.conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (self.database,)
        ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.conn.close()
