"""The one way the server makes HTTP requests to URLs that tenants or candidates choose.

Webhook deliveries and the reference-photo fetch both go through
:func:`outbound_request`. A URL chosen by someone else can aim the server at
its own network (SSRF), so every request here:

* resolves the host once, refuses it when **any** address is not public
  (:func:`address_is_public`, which also sees through IPv4 embedded in IPv6:
  mapped ``::ffff:a.b.c.d``, compatible ``::a.b.c.d`` (always refused), NAT64 ``64:ff9b::/96``
  and ``64:ff9b:1::/48``, 6to4 ``2002::/16``, Teredo), and then connects to
  that very address: no second resolution, so DNS rebinding cannot switch it;
* never follows a redirect (a 3xx is an answer like any other);
* has one total deadline for resolving, connecting, TLS, headers and body
  (a server that drips one byte a second is cut off at the deadline);
* reads at most ``max_bytes`` of the body;
* reports failures as :class:`OutboundError` with a short, neutral
  ``reason`` (``refused``, ``timeout``, ``connection``, ``too_large``,
  ``http``) and never the operating system's text, which would tell a
  caller which internal ports are open.

``PROCTORME_ALLOW_PRIVATE_URLS`` (on with ``DEBUG``) lifts only the address
rule, for local development and tests against loopback servers.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SIXTOFOUR = ipaddress.ip_network("2002::/16")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_CHUNK = 64 * 1024
# Name resolution cannot be interrupted; it runs on these threads so the deadline still holds.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="outbound-dns")


class OutboundError(Exception):
    """An outbound request that was refused or failed; ``reason`` is one neutral word."""

    def __init__(self, reason: str, message: str, *, status: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    body: bytes
    content_type: str


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(ip.packed[-4:])
    return None


def address_is_public(address: str) -> bool:
    """True only for a globally routable unicast address, also behind any IPv6 wrapping of IPv4."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return address_is_public(str(embedded))
        # IPv4-compatible ::a.b.c.d is deprecated and never routed on the Internet: refused
        # whatever it wraps (it includes :: and ::1).
        if ip in _IPV4_COMPATIBLE or ip in _SIXTOFOUR or any(ip in network for network in _NAT64):
            return False
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _resolve_within(host: str, port: int, seconds: float) -> list[str]:
    try:
        return _resolver.submit(_resolve, host, port).result(timeout=max(seconds, 0.01))
    except FutureTimeout:
        raise OutboundError("timeout", "The request timed out.") from None
    except (OSError, UnicodeError):
        return []


def url_addresses(url: str, *, deadline: float | None = None) -> list[str]:
    """Check ``url`` and return the addresses it may be fetched from, or raise OutboundError("refused")."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundError("refused", "The URL is malformed.") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise OutboundError("refused", "Only http and https URLs are allowed.")
    if parts.username or parts.password:
        raise OutboundError("refused", "Credentials are not allowed in the URL.")
    host = parts.hostname
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        remaining = (deadline - time.monotonic()) if deadline else 10.0
        addresses = _resolve_within(host, port, remaining)
    if not addresses:
        raise OutboundError("refused", "The host does not resolve.")
    if not settings.PROCTORME_ALLOW_PRIVATE_URLS and not all(address_is_public(a) for a in addresses):
        raise OutboundError("refused", "The URL points to a private, loopback or reserved address.")
    return addresses


def outbound_request(
    *,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float,
    max_bytes: int,
    truncate: bool = False,
) -> OutboundResponse:
    """One request to ``url`` within ``timeout`` seconds in all; see the module docstring.

    A body longer than ``max_bytes`` raises OutboundError("too_large"), or is
    cut to ``max_bytes`` when ``truncate`` (a webhook's response excerpt).
    """
    deadline = time.monotonic() + timeout
    address = url_addresses(url, deadline=deadline)[0]
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    remaining = max(deadline - time.monotonic(), 0.01)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, port, timeout=remaining
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, port, timeout=remaining)

    # Connect to the checked address (TLS still verifies the host name), never re-resolve.
    def pinned(addr, timeout=None, source_address=None):
        return socket.create_connection((address, addr[1]), timeout, source_address)

    connection._create_connection = pinned
    cut_off = threading.Event()

    def at_deadline() -> None:
        # Unblocks a read that a dripping server keeps alive past the deadline.
        cut_off.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, at_deadline)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if connection.sock is not None:
                connection.sock.settimeout(left)
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            if not truncate:
                raise OutboundError("too_large", "The response is too large.")
            data = data[:max_bytes]
        if cut_off.is_set():
            raise TimeoutError
        return OutboundResponse(response.status, data, response.getheader("Content-Type", "") or "")
    except OutboundError:
        raise
    except TimeoutError:
        raise OutboundError("timeout", "The request timed out.") from None
    except (OSError, http.client.HTTPException, ValueError):
        if cut_off.is_set():
            raise OutboundError("timeout", "The request timed out.") from None
        raise OutboundError("connection", "The connection failed.") from None
    finally:
        watchdog.cancel()
        connection.close()
