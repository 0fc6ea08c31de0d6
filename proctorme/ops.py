"""Who counts as the operator on /metrics and /healthz.

A request is the operator's when it carries ``Authorization: Bearer
<PROCTORME_OPS_TOKEN>`` or comes from one of ``PROCTORME_OPS_NETWORKS``. The
client address is ``REMOTE_ADDR``: behind a proxy that is what daphne's
``--proxy-headers`` takes from X-Forwarded-For, so list networks only when the
proxy replaces a client-sent X-Forwarded-For (deploy/haproxy.cfg does); the
token works everywhere.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings


def _bearer(request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def is_operator_request(request) -> bool:
    token = settings.PROCTORME_OPS_TOKEN
    if token and hmac.compare_digest(_bearer(request).encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.PROCTORME_OPS_NETWORKS)
