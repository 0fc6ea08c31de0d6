"""Fault, on purpose: Redis (channel layer, broker and cache) restarted in the
middle of a session, with everything it held lost (no persistence). Against the
production configuration (HAProxy, daphne, a Celery worker, PostgreSQL, a Redis
server of this test's own): every signal acknowledged and every upload accepted
before, during and after the restart is stored exactly once, and the uploads are
analysed once Redis is back.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import cv2
import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
ORIGIN = "https://exams.faults.test"
pytestmark = [pytest.mark.integration, pytest.mark.slow]


class OwnRedis:
    """A redis-server of this test's own, on a free port, that can be restarted empty."""

    def __init__(self, port: int) -> None:
        self.port, self.proc, self.back_at = port, None, 0.0
        self.dir = tempfile.mkdtemp(prefix="proctorme-redis-")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            + ["--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError("own redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _request(url: str, *, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers={"Origin": ORIGIN, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, {"raw": body[:200].decode("latin-1")}


def _multipart(items: list[tuple[dict, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    meta = {"items": [m for m, _ in items]}
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n{json.dumps(meta)}\r\n'.encode()
    )
    for m, data in items:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{m["part"]}"; filename="{m["part"]}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _upload_until_accepted(started: dict, items, deadline_s: float = 60) -> list[int]:
    """Send one batch as the widget does: retried with a pause until a 2xx; the codes seen."""
    body, content_type = _multipart(items)
    seen = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        status, answer = _request(
            started["uploadUrl"],
            data=body,
            headers={"Authorization": f"Bearer {started['token']}", "Content-Type": content_type},
        )
        seen.append(status)
        if 200 <= status < 300:
            return seen
        assert status == 503 and answer["error"]["code"], (status, answer)
        time.sleep(0.5)
    raise AssertionError(f"upload never accepted: {seen}")


async def _signals(ws_url: str, seqs: range, acked: set[int]) -> None:
    """Send signals as the widget does: on a dropped socket, reconnect and resend what is unacknowledged."""
    import websockets

    pending = list(seqs)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        try:
            async with websockets.connect(ws_url, origin=ORIGIN, open_timeout=10) as socket:
                hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
                assert hello["type"] == "hello"
                pending = [s for s in pending if s > hello["lastClientSeq"]] or []
                for seq in list(pending):
                    at = datetime.now(UTC).isoformat()
                    await socket.send(
                        json.dumps(
                            {"type": "signal", "seq": seq, "event": "COPY_PASTE", "at": at, "payload": {}}
                        )
                    )
                    while True:
                        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                        if message["type"] == "ack":
                            acked.add(message["seq"])
                            pending.remove(message["seq"])
                            break
        except (TimeoutError, OSError, websockets.ConnectionClosed):
            await asyncio.sleep(0.5)
    assert not pending, f"signals never acknowledged: {pending}"


def test_a_redis_restart_mid_session_loses_no_acknowledged_signal_or_upload(tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    require(bool(shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()), "HAProxy is not installed")
    base = os.environ.get("DATABASE_URL", "")
    require(
        base.startswith(("postgres://", "postgresql://")), "PostgreSQL is not configured (set DATABASE_URL)"
    )
    from topology import Topology, drop_database, free_port

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
            env = topology.env()
            created = subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "create_institution",
                    "Faults U",
                    "--domain",
                    "exams.faults.test",
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            key = re.search(r"publishable_key: (pk_\S+)", created).group(1)
            status, started = _request(
                f"{topology.url}/widget/v1/sessions",
                data=json.dumps(
                    {
                        "dialect": "eye",
                        "config": {
                            "apiKey": key,
                            "assessmentId": "faults",
                            "assessmentTitle": "Faults",
                            "candidateId": "c-1",
                            "candidateEmail": "c1@faults.test",
                            "candidateFirstName": "C",
                            "candidateLastName": "One",
                            "institutionName": "Faults U",
                            "examDuration": 3600,
                        },
                    }
                ).encode(),
                headers={"Content-Type": "application/json"},
            )
            assert status == 201, started
            frame = cv2.imencode(".jpg", cv2.resize(cv2.imread(str(_coffee())), (320, 240)))[1].tobytes()
            start = datetime.fromisoformat(started["startedAt"])

            def batch(first: int) -> list[tuple[dict, bytes]]:
                return [
                    (
                        {
                            "part": f"p{seq}",
                            "kind": "frame",
                            "seq": seq,
                            "capturedAt": (start + timedelta(seconds=seq)).isoformat(),
                        },
                        frame,
                    )
                    for seq in range(first, first + 5)
                ]

            acked: set[int] = set()
            codes: list[int] = []
            codes += _upload_until_accepted(started, batch(1))
            asyncio.run(_signals(started["wsUrl"], range(1, 11), acked))

            own.stop()  # Redis gone, and everything it held with it
            codes += _upload_until_accepted_after(own, started, batch(6))
            asyncio.run(_signals(started["wsUrl"], range(11, 21), acked))
            codes += _upload_until_accepted(started, batch(11))

            assert acked == set(range(1, 21))
            assert 500 not in codes, codes
            counts = _db_counts(env, started["sessionId"])
            assert counts["signals"] == list(range(1, 21)), counts  # each acknowledged signal once
            assert counts["frames"] == list(range(1, 16)), counts  # each accepted upload once
            deadline = time.monotonic() + 60
            while counts["unanalysed"] and time.monotonic() < deadline:
                time.sleep(1)
                counts = _db_counts(env, started["sessionId"])
            assert counts["unanalysed"] == 0, counts
            print(
                f"Redis restarted: nothing lost; every upload analysed {time.monotonic() - own.back_at:.1f} s "
                f"after Redis was back; upload answers {codes}; worker restarts {len(topology.restarts.get('worker-1', []))}"
            )
    finally:
        own.stop()
        drop_database(database_url)


def _upload_until_accepted_after(own: OwnRedis, started: dict, items) -> list[int]:
    """While Redis is down, an upload may be refused with a coded 503; bring Redis back after a while."""
    body_codes = []
    deadline = time.monotonic() + 3
    body, content_type = _multipart(items)
    while time.monotonic() < deadline:
        status, answer = _request(
            started["uploadUrl"],
            data=body,
            headers={"Authorization": f"Bearer {started['token']}", "Content-Type": content_type},
        )
        body_codes.append(status)
        assert status != 500, answer
        if 200 <= status < 300:
            break
        time.sleep(0.5)
    own.start()  # back, empty
    own.back_at = time.monotonic()
    return body_codes + _upload_until_accepted(started, items)


def _coffee() -> Path:
    from skimage import data

    path = Path(tempfile.gettempdir()) / "proctorme-faults-coffee.png"
    if not path.exists():
        cv2.imwrite(str(path), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    return path


def _db_counts(env: dict, session_id: str) -> dict:
    script = (
        "import json; from sessions.models import Event, MediaChunk, ProctoringSession as P;"
        f"s = P.objects.get(public_id='{session_id}');"
        "print(json.dumps({"
        "'signals': sorted(Event.objects.filter(session=s, client_seq__isnull=False).values_list('client_seq', flat=True)),"
        "'frames': sorted(MediaChunk.objects.filter(session=s, kind='frame').values_list('seq', flat=True)),"
        "'unanalysed': MediaChunk.objects.filter(session=s, kind='frame', analysed_at__isnull=True).count()}))"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
