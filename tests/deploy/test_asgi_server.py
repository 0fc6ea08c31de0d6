"""The production ASGI server as deploy/topology.py starts it (``asgi_server_command``), for real:
its access log, the client address and scheme it takes from the load balancer's headers (and
only from the load balancer), its refusal of oversized frames, its WebSocket keepalive, and a
graceful stop. The server runs embedded (SQLite, in-memory channel layer): nothing here needs
PostgreSQL or Redis."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from deploy.topology import WS_MAX_BYTES, asgi_server_command, free_port
from sessions.consumers import CLOSE_BAD_TOKEN, MAX_MESSAGE_BYTES

ROOT = Path(__file__).resolve().parents[2]
OPS_NETWORK_ADDRESS = "203.0.113.9"  # TEST-NET-3: an address only a forwarded header can claim

pytestmark = [pytest.mark.slow]


class Server:
    def __init__(self, tmp_path: Path, **options) -> None:
        self.port = free_port()
        (tmp_path / "static").mkdir(parents=True, exist_ok=True)
        self.log = tmp_path / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        for name in ("DATABASE_URL", "REDIS_URL", "PROCTORME_TESTING"):
            env.pop(name, None)
        env.update(
            DJANGO_SETTINGS_MODULE="proctorme.settings",
            SQLITE_PATH=str(tmp_path / "db.sqlite3"),
            STATIC_ROOT=str(tmp_path / "static"),
            MEDIA_ROOT=str(tmp_path / "media"),
            SECRET_KEY="test-asgi-server-" + "x" * 40,
            DEBUG="0",
            ALLOWED_HOSTS="127.0.0.1",
            TASKS_MODE="sync",  # no embedded scheduler: it would touch tables this database lacks
            PROCTORME_OPS_NETWORKS="203.0.113.0/24",
            PYTHONUNBUFFERED="1",
        )
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                asgi_server_command(sys.executable, host="127.0.0.1", port=self.port, **options),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"the server exited: {self.log.read_text()}"
            try:
                with urllib.request.urlopen(f"{self.url}/livez", timeout=2):  # noqa: S310 (loopback)
                    return
            except OSError:
                assert time.monotonic() < deadline, f"the server did not answer: {self.log.read_text()}"
                time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get_json(self, path: str, headers: dict | None = None) -> dict:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return json.loads(response.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def server(tmp_path):
    started = Server(tmp_path)
    yield started
    started.stop()


def _ws_url(server: Server) -> str:
    return f"ws://127.0.0.1:{server.port}/ws/widget/"


def test_requests_are_in_the_access_log(server):
    server.get_json("/livez")
    deadline = time.monotonic() + 5
    while '"GET /livez HTTP/1.1" 200' not in server.log.read_text():
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.1)


def test_the_client_address_is_the_forwarded_one_only_from_a_trusted_proxy(tmp_path, server):
    # /healthz details its checks for the operator: here, a client in PROCTORME_OPS_NETWORKS.
    assert "engine" not in server.get_json("/healthz")["checks"]["database"]
    forwarded = {"X-Forwarded-For": OPS_NETWORK_ADDRESS, "X-Forwarded-Proto": "https"}
    assert server.get_json("/healthz", forwarded)["checks"]["database"]["engine"] == "sqlite"
    # The same header from an address that is not the load balancer's counts for nothing.
    untrusting = Server(tmp_path / "untrusting", trusted_proxies="192.0.2.1")
    try:
        assert "engine" not in untrusting.get_json("/healthz", forwarded)["checks"]["database"]
    finally:
        untrusting.stop()


def test_an_oversized_frame_is_refused_by_the_server_and_the_consumers_limit_still_applies(server):
    import websockets

    # The largest frame the consumer must see (its own limit in characters, 4 bytes each) fits.
    assert WS_MAX_BYTES >= 4 * MAX_MESSAGE_BYTES

    async def close_code(text: str) -> int:
        async with websockets.connect(_ws_url(server), open_timeout=10, compression=None) as ws:
            await ws.send(text)
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            return ws.protocol.close_rcvd.code

    # Past the consumer's limit, within the server's: the consumer refuses it (no token read).
    assert asyncio.run(close_code("€" * (MAX_MESSAGE_BYTES + 1))) == CLOSE_BAD_TOKEN
    # Past the server's: closed with 1009 (message too big) before the consumer sees it.
    assert asyncio.run(close_code("x" * (WS_MAX_BYTES + 1))) == 1009


def _raw_socket_that_never_answers_pings(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /ws/widget/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_a_peer_that_stops_answering_pings_is_closed_and_one_that_answers_is_kept(tmp_path):
    import websockets

    server = Server(tmp_path, ping_interval=1, ping_timeout=1)
    try:
        silent = _raw_socket_that_never_answers_pings(server.port)
        opened = time.monotonic()
        received = b""
        while chunk := silent.recv(4096):  # a ping, then a close frame, then the end
            received += chunk
        closed_after = time.monotonic() - opened
        silent.close()
        assert received[:1] == b"\x89"  # a ping frame came first
        assert 1.5 <= closed_after <= 5, closed_after

        async def answering() -> bool:
            async with websockets.connect(_ws_url(server), open_timeout=10, ping_interval=None) as ws:
                await asyncio.sleep(4)  # the client library answers each ping with a pong
                return ws.state.name == "OPEN"

        assert asyncio.run(answering())
    finally:
        server.stop()


def test_a_stopped_server_closes_its_sockets_as_a_restart_and_exits(server):
    import websockets

    async def run() -> int:
        async with websockets.connect(_ws_url(server), open_timeout=10) as ws:
            server.proc.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 15)
            return ws.protocol.close_rcvd.code

    assert asyncio.run(run()) == 1012  # service restart: the widget reconnects, elsewhere
    # It finished its shutdown, then ended by the signal it was sent, as a service manager expects.
    assert server.proc.wait(20) == -signal.SIGTERM
    assert "Finished server process" in server.log.read_text()


def test_the_container_image_runs_the_server_as_the_topology_does():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    cmd = json.loads(next(line for line in dockerfile.splitlines() if line.startswith("CMD "))[4:])
    assert cmd == asgi_server_command("python", host="0.0.0.0", port=8000, trusted_proxies="*")
