"""Every outbound call of the LTI layer (platform JWKS, token, ACS, AGS) goes through ``lti_fetch``.

The URL is checked like a webhook target (tenants.webhooks.webhook_url_check:
private and loopback addresses are refused unless PROCTORME_ALLOW_PRIVATE_URLS
is on — development and tests only), the connection goes to the checked
address, redirects are not followed, and the answer is capped in size and time.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from sessions.lti.errors import LtiPlatformUnreachable
from tenants.webhooks import WebhookUrlNotAllowed, webhook_url_check

MAX_RESPONSE_BYTES = 1_000_000


@dataclass
class FetchResult:
    status: int
    body: bytes
    content_type: str


def lti_fetch(
    method: str, url: str, *, body: bytes | None = None, headers: dict | None = None
) -> FetchResult:
    try:
        addresses = webhook_url_check(url=url)
    except WebhookUrlNotAllowed as error:
        raise LtiPlatformUnreachable(error.message, details={"url": url}) from None
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = settings.LTI_HTTP_TIMEOUT
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, port, timeout=timeout
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)

    def pinned(addr, timeout=None, source_address=None):
        return socket.create_connection((addresses[0], addr[1]), timeout, source_address)

    connection._create_connection = pinned
    try:
        connection.request(
            method, path, body=body, headers={"User-Agent": "Proctorme-LTI", **(headers or {})}
        )
        response = connection.getresponse()
        data = response.read(MAX_RESPONSE_BYTES + 1)
    except (OSError, http.client.HTTPException) as error:
        raise LtiPlatformUnreachable(f"The platform did not answer: {error}", details={"url": url}) from None
    finally:
        connection.close()
    if len(data) > MAX_RESPONSE_BYTES:
        raise LtiPlatformUnreachable("The platform's answer is too large.", details={"url": url})
    return FetchResult(response.status, data, response.getheader("Content-Type", ""))
