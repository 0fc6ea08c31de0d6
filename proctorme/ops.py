"""Who counts as the operator on /metrics and /healthz.

A request is the operator's when it carries ``Authorization: Bearer
<PROCTORME_OPS_TOKEN>`` or comes from one of ``PROCTORME_OPS_NETWORKS``. The
client address is ``REMOTE_ADDR``: behind a proxy that is what the ASGI server's
``--proxy-headers`` takes from X-Forwarded-For (deploy/topology.py), so list networks only when the
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


def client_address(request) -> str | None:
    """The client's address in its normal form, or None when there is none to trust.

    ``REMOTE_ADDR`` only: a proxy's X-Forwarded-For counts only where the deployment
    configured it (the ASGI server's ``--proxy-headers`` behind a proxy that replaces the header),
    never because a client sent one.
    """
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return None


def is_operator_request(request) -> bool:
    token = settings.PROCTORME_OPS_TOKEN
    if token and hmac.compare_digest(_bearer(request).encode(), token.encode()):
        return True
    address = client_address(request)
    if address is None:
        return False
    return any(ipaddress.ip_address(address) in network for network in settings.PROCTORME_OPS_NETWORKS)
