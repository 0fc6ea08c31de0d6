from __future__ import annotations

import asyncio
import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from proctorme.ops import is_operator_request

log = logging.getLogger(__name__)


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "engine": connection.vendor}


async def _round_trip(layer) -> bool:
    channel = await layer.new_channel("healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    return message.get("token") == token


def _check_channel_layer() -> dict:
    layer = get_channel_layer()
    return {"ok": async_to_sync(_round_trip)(layer), "backend": type(layer).__name__}


def _check_broker() -> dict:
    if settings.TASKS_MODE != "celery":
        return {"ok": True, "mode": settings.TASKS_MODE}
    from proctorme.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return {"ok": True, "mode": "celery"}


@never_cache
@require_GET
def healthz(request):
    """200/503 with which part failed; why it failed only for operators (proctorme.ops).

    Exception text can carry host names, ports and credentials of the database
    or Redis: the public (load balancers, uptime monitors) sees ``ok`` flags only,
    the text goes to the log and to requests with the operator token.
    """
    checks = {}
    for name, check in (
        ("database", _check_database),
        ("channel_layer", _check_channel_layer),
        ("broker", _check_broker),
    ):
        try:
            checks[name] = check()
        except Exception as exc:  # a health check reports failures, it does not raise them
            log.warning("healthz: %s check failed: %s: %s", name, type(exc).__name__, exc)
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    healthy = all(c["ok"] for c in checks.values())
    if not is_operator_request(request):
        checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )


@never_cache
@require_GET
def livez(request):
    """Liveness for load balancers: this process answers HTTP. Touches nothing else.

    A load balancer that health-checks ``/healthz`` takes every server out at once
    when a shared part (Redis, PostgreSQL) is slow or away, and then answers 503 to
    everything — including the uploads that would have been accepted and the
    requests that would have got a coded answer. Dependencies are monitored through
    ``/healthz``; routing decisions use this.
    """
    return JsonResponse({"status": "ok"})
