"""What the fault tests share: a Redis server of their own, the widget's HTTP and
WebSocket calls made the way the widget makes them (retried until acknowledged),
and a look at what the topology's database holds."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import cv2

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "https://exams.faults.test"


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


def request(url: str, *, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
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


def multipart(items: list[tuple[dict, bytes]]) -> tuple[bytes, str]:
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


def upload_until_accepted(started: dict, items, deadline_s: float = 60) -> list[int]:
    """Send one batch as the widget does: retried with a pause until a 2xx; the codes seen."""
    body, content_type = multipart(items)
    seen = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        status, answer = request(
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


async def signals(started: dict, seqs: range, acked: set[int]) -> None:
    """Send signals as the widget does: on a dropped socket, reconnect (the token in the first
    message) and resend what is unacknowledged."""
    import websockets

    pending = list(seqs)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        try:
            async with websockets.connect(started["wsUrl"], origin=ORIGIN, open_timeout=10) as socket:
                await socket.send(json.dumps({"type": "auth", "token": started["token"]}))
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


def upload_until_accepted_after(own: OwnRedis, started: dict, items) -> list[int]:
    """While Redis is down, an upload may be refused with a coded 503; bring Redis back after a while."""
    body_codes = []
    deadline = time.monotonic() + 3
    body, content_type = multipart(items)
    while time.monotonic() < deadline:
        status, answer = request(
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
    return body_codes + upload_until_accepted(started, items)


def coffee() -> Path:
    from skimage import data

    path = Path(tempfile.gettempdir()) / "proctorme-faults-coffee.png"
    if not path.exists():
        cv2.imwrite(str(path), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    return path


def db_counts(env: dict, session_id: str) -> dict:
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


def start_session(topology) -> tuple[dict, dict]:
    """An institution for ORIGIN's host and an Eye session started through the topology's load balancer."""
    env = topology.env()
    created = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "create_institution",
            "Faults U",
            "--domain",
            urlsplit(ORIGIN).hostname,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key = re.search(r"publishable_key: (pk_\S+)", created).group(1)
    config = {
        "apiKey": key,
        "assessmentId": "faults",
        "assessmentTitle": "Faults",
        "candidateId": "c-1",
        "candidateEmail": "c1@faults.test",
        "candidateFirstName": "C",
        "candidateLastName": "One",
        "institutionName": "Faults U",
        "examDuration": 3600,
    }
    status, started = request(
        f"{topology.url}/widget/v1/sessions",
        data=json.dumps({"dialect": "eye", "config": config}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 201, started
    return env, started


class FrameBatches:
    """Frame uploads of five numbered frames each, captured one second apart from the session's start."""

    def __init__(self, started: dict) -> None:
        self.start = datetime.fromisoformat(started["startedAt"])
        self.frame = cv2.imencode(".jpg", cv2.resize(cv2.imread(str(coffee())), (320, 240)))[1].tobytes()

    def batch(self, first: int) -> list[tuple[dict, bytes]]:
        return [
            (
                {
                    "part": f"p{seq}",
                    "kind": "frame",
                    "seq": seq,
                    "capturedAt": (self.start + timedelta(seconds=seq)).isoformat(),
                },
                self.frame,
            )
            for seq in range(first, first + 5)
        ]
