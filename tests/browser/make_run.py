"""The product started as ``make run`` starts it, in a process of its own, for the LMS plugin tests.

``make run`` (Makefile) runs, with the embedded defaults (a SQLite file, the in-memory channel
layer, in-process tasks, a local media folder):

    manage.py migrate --noinput -v 0
    manage.py seed_demo            # Demo Academy, its logins and keys (printed)
    manage.py seed_demo_sessions   # finished demo sessions for the dashboard
    manage.py demo_banner          # prints where to go
    DEBUG=1 SITE_URL=http://HOST:PORT manage.py runserver HOST:PORT --noreload

``start_like_make_run`` runs the same commands with the same settings, on a free port, with a
temporary SQLite file and media folder (``SQLITE_PATH``, ``MEDIA_ROOT``), and none of the test
run's own settings (``DATABASE_URL``, ``REDIS_URL``, ``PROCTORME_TESTING`` …) passed on. Two
steps are left out: ``seed_demo_sessions`` (minutes of analysis on a loaded machine, and
nothing a plugin reads) and ``demo_banner`` (it only prints). What the server stored is read
back from its SQLite file, read-only. ``stop()`` ends the server's whole process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The test run's own settings, which `make run` does not have.
NOT_PASSED_ON = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "TASKS_MODE",
    "PROCTORME_TESTING",
    "PROCTORME_REQUIRE_ALL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "MEDIA_ROOT",
    "SQLITE_PATH",
    "SITE_URL",
    "DEBUG",
)


@dataclass
class RunningProduct:
    url: str
    db_path: Path
    env: dict
    keys: dict[str, str]
    process: subprocess.Popen
    log: Path
    _db: sqlite3.Connection | None = field(default=None, repr=False)

    def manage(self, *args: str) -> str:
        """Run a management command against this server's database; its output."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def rows(self, sql: str, *params) -> list[sqlite3.Row]:
        """Read what the server stored (read-only; SQLite lets a reader in beside the writer)."""
        if self._db is None:
            self._db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
            self._db.row_factory = sqlite3.Row
        return list(self._db.execute(sql, params))

    def session(self, test_attempt_id: str) -> sqlite3.Row | None:
        found = self.rows(
            "SELECT s.*, a.external_id AS assessment_external_id FROM proctoring_proctoringsession s"
            " JOIN proctoring_assessment a ON a.id = s.assessment_id WHERE s.attempt_id = ?",
            f"ap:{test_attempt_id}",
        )
        return found[0] if found else None

    def flag_types(self, session_id: int) -> list[str]:
        return [
            r["type"] for r in self.rows("SELECT type FROM proctoring_flag WHERE session_id = ?", session_id)
        ]

    def stop(self) -> None:
        if self._db is not None:
            self._db.close()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_like_make_run(folder: Path, *, host: str = "127.0.0.1", timeout: float = 60.0) -> RunningProduct:
    port = _free_port(host)
    env = {name: value for name, value in os.environ.items() if name not in NOT_PASSED_ON}
    env.update(
        SQLITE_PATH=str(folder / "proctorme.sqlite3"),
        MEDIA_ROOT=str(folder / "media"),
        HOST=host,
        PORT=str(port),
        PYTHONUNBUFFERED="1",
    )

    def manage(*args: str, **extra) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    manage("migrate", "--noinput", "-v", "0")
    shown = manage("seed_demo")
    keys = dict(line.split(": ", 1) for line in shown.splitlines() if ": " in line)
    run_env = {**env, "DEBUG": "1", "SITE_URL": f"http://{host}:{port}"}
    log = folder / "runserver.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
            cwd=ROOT,
            env=run_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends it and its children
        )
    product = RunningProduct(
        f"http://{host}:{port}", folder / "proctorme.sqlite3", run_env, keys, process, log
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"runserver exited ({process.returncode}):\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return product
        time.sleep(0.1)
    product.stop()
    raise RuntimeError(f"runserver did not listen on {host}:{port}:\n{log.read_text(errors='replace')}")


# What an administrator of Demo Academy does in /admin/ before the plugins can run: register
# the LMS's host, and let attempt credentials open finished reports (docs/widget.md).
ADMIN_SETUP = """
import json
from sessions.demo.institution import DEMO_SLUG
from tenants.models import Institution
from tenants.services import domain_add
institution = Institution.objects.get(slug=DEMO_SLUG)
if not institution.domains.filter(host={host!r}).exists():
    domain_add(institution=institution, host={host!r})
institution.attempt_credentials_open_report = True
institution.save(update_fields=["attempt_credentials_open_report"])
print(json.dumps({{"domains": sorted(institution.domains.values_list("host", flat=True))}}))
"""


def register_lms_host(product: RunningProduct, host: str) -> list[str]:
    return json.loads(product.manage("shell", "-c", ADMIN_SETUP.format(host=host)).strip().splitlines()[-1])[
        "domains"
    ]
