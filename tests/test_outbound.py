"""Findings 1 and 13: one hardened outbound fetcher, and a private-address check without gaps.

Loopback HTTP servers stand in for an attacker's server; name resolution is
pinned through proctorme.outbound._resolve, the single place that resolves.
"""

from __future__ import annotations

import http.server
import io
import socket
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from proctorme import outbound
from proctorme.outbound import OutboundError, address_is_public, outbound_request
from sessions.analysis_pipeline import REFERENCE_UNAVAILABLE, _reference_from_url
from tenants.services import WebhookUrlNotAllowed, webhook_url_check


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}
    hits: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.hits.append(self.path)
        route = self.routes.get(self.path)
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        route(self)


@pytest.fixture
def server():
    class Handler(_Handler):
        routes = {}
        hits = []

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(
        port=httpd.server_address[1],
        routes=Handler.routes,
        hits=Handler.hits,
        url=lambda p: f"http://pics.test:{httpd.server_address[1]}{p}",
    )
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def resolves_to_loopback(monkeypatch, settings):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = True  # the loopback server stands in for a public host
    calls = []

    def resolve(host, port):
        calls.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(outbound, "_resolve", resolve)
    return calls


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def _send(body: bytes, status=200, headers=None):
    def route(handler):
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def test_finding1_the_checked_address_is_the_one_connected_to(server, resolves_to_loopback):
    server.routes["/me.jpg"] = _send(_jpeg(), headers={"Content-Type": "image/jpeg"})
    response = outbound_request(method="GET", url=server.url("/me.jpg"), timeout=5, max_bytes=10_000)
    assert response.status == 200 and response.body[:2] == b"\xff\xd8"
    # One resolution: the name (which real DNS does not know) is never looked up a second time.
    assert resolves_to_loopback == ["pics.test"]


def test_finding1_redirects_are_not_followed(server, resolves_to_loopback):
    server.routes["/me.jpg"] = _send(b"", status=302, headers={"Location": "http://127.0.0.1/internal"})
    server.routes["/internal"] = _send(b"secret")
    response = outbound_request(method="GET", url=server.url("/me.jpg"), timeout=5, max_bytes=10_000)
    assert response.status == 302
    assert server.hits == ["/me.jpg"]


def test_finding1_a_dripping_server_is_cut_off_at_the_total_deadline(server, resolves_to_loopback):
    def drip(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        for _ in range(200):  # one byte every 0.1 s: each read is quick, the whole is not
            try:
                handler.wfile.write(b"x")
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)

    server.routes["/slow"] = drip
    started = time.monotonic()
    with pytest.raises(OutboundError) as caught:
        outbound_request(method="GET", url=server.url("/slow"), timeout=1.0, max_bytes=200_000)
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 5  # 20 s of dripping, cut off near the 1 s deadline


def test_finding1_a_body_over_the_cap_is_refused(server, resolves_to_loopback):
    server.routes["/big"] = _send(b"x" * 300_000)
    with pytest.raises(OutboundError) as caught:
        outbound_request(method="GET", url=server.url("/big"), timeout=5, max_bytes=100_000)
    assert caught.value.reason == "too_large"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_finding1_reference_photo_errors_do_not_tell_ports_apart(server, resolves_to_loopback, monkeypatch):
    """A closed port, an open non-HTTP port, an error page and a redirect read the same on the dashboard."""
    monkeypatch.setattr("sessions.analysis_pipeline.REFERENCE_TIMEOUT", 1.0)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    server.routes["/missing-redirect"] = _send(b"", status=301, headers={"Location": "/elsewhere"})
    urls = [
        f"http://pics.test:{_closed_port()}/me.jpg",
        f"http://pics.test:{listener.getsockname()[1]}/me.jpg",  # accepts, never answers
        server.url("/not-there.jpg"),
        server.url("/missing-redirect"),
    ]
    errors = []
    for url in urls:
        identity: dict = {}
        session = SimpleNamespace(candidate=SimpleNamespace(image_url=url), public_id="s")
        started = time.monotonic()
        _reference_from_url(session, identity)
        assert time.monotonic() - started < 5
        errors.append(identity["url_error"])
    listener.close()
    assert errors == [REFERENCE_UNAVAILABLE] * len(urls)


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
        "64:ff9b:1::c0a8:1",  # local-use NAT64 prefix
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::10.0.0.1",
        "::8.8.8.8",  # IPv4-compatible is never routed, whatever it wraps
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
    ],
)
def test_finding13_wrapped_private_addresses_are_not_public(address):
    assert address_is_public(address) is False


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:4700::1111", "64:ff9b::5db8:d822", "2002:5db8:d822::1"]
)
def test_finding13_public_addresses_stay_public(address):
    assert address_is_public(address) is True


@pytest.mark.parametrize(
    "url", ["https://[64:ff9b::7f00:1]/hook", "https://[2002:7f00:1::]/hook", "https://[::127.0.0.1]/hook"]
)
def test_finding13_webhook_urls_in_wrapped_private_forms_are_refused(settings, url):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = False
    with pytest.raises(WebhookUrlNotAllowed):
        webhook_url_check(url=url)


def test_finding13_a_name_resolving_to_a_wrapped_private_address_is_refused(settings, monkeypatch):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(outbound, "_resolve", lambda host, port: ["64:ff9b::a9fe:a9fe"])
    with pytest.raises(OutboundError) as caught:
        outbound_request(method="GET", url="https://photos.example.com/me.jpg", timeout=2, max_bytes=10)
    assert caught.value.reason == "refused"
