"""``/metrics``: the platform's state in Prometheus' text format, for operators only.

Every figure is read from the database or the broker when Prometheus scrapes,
so any one ASGI process answers for the whole deployment (no per-process
counters to add up, nothing lost when a process restarts):

* ``proctorme_sessions_running`` / ``proctorme_sessions_finalising``
* ``proctorme_uploads_per_second{kind}``: frame, snapshot and audio batches
  received over the last minute, divided by 60
* ``proctorme_analysis_lag_seconds``: age of the oldest upload not analysed yet
  (0 when none waits); ``proctorme_analysis_backlog`` how many wait
* ``proctorme_task_queue_depth``: tasks waiting in the broker (Celery) or the
  in-process pool; ``proctorme_task_queue_up`` is 0 when the broker does not answer
* ``proctorme_webhook_deliveries{status}`` (pending, succeeded, failed),
  ``proctorme_webhook_attempts_failed_last_hour``, ``proctorme_webhook_endpoints_disabled``

No label carries an institution, a candidate or any other personal datum.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Count, Min
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from proctorme.ops import is_operator_request
from proctorme.tasks import queue_depth
from sessions.models import MediaChunk, ProctoringSession
from tenants.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)
ANALYSED_KINDS = [MediaChunk.Kind.FRAME, MediaChunk.Kind.SNAPSHOT, MediaChunk.Kind.AUDIO]
UPLOAD_WINDOW = timedelta(seconds=60)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class PlatformCollector:
    def collect(self):
        now = timezone.now()
        statuses = dict(
            ProctoringSession.objects.filter(
                status__in=[ProctoringSession.Status.ACTIVE, ProctoringSession.Status.FINALISING]
            )
            .values_list("status")
            .annotate(n=Count("pk"))
        )
        yield _gauge(
            "proctorme_sessions_running",
            "Proctoring sessions in progress.",
            statuses.get(ProctoringSession.Status.ACTIVE, 0),
        )
        yield _gauge(
            "proctorme_sessions_finalising",
            "Sessions ended and being finalised (final analysis, score, webhook).",
            statuses.get(ProctoringSession.Status.FINALISING, 0),
        )

        uploads = GaugeMetricFamily(
            "proctorme_uploads_per_second",
            "Media batches received per second over the last minute.",
            labels=["kind"],
        )
        recent = dict(
            MediaChunk.objects.filter(created_at__gte=now - UPLOAD_WINDOW, kind__in=ANALYSED_KINDS)
            .values_list("kind")
            .annotate(n=Count("pk"))
        )
        for kind in ANALYSED_KINDS:
            uploads.add_metric([kind.value], recent.get(kind, 0) / UPLOAD_WINDOW.total_seconds())
        yield uploads

        backlog = MediaChunk.objects.filter(analysed_at__isnull=True, kind__in=ANALYSED_KINDS).aggregate(
            n=Count("pk"), oldest=Min("created_at")
        )
        oldest = backlog["oldest"]
        yield _gauge(
            "proctorme_analysis_lag_seconds",
            "Age of the oldest upload that is not analysed yet (0 when none waits).",
            max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        )
        yield _gauge("proctorme_analysis_backlog", "Uploads waiting for analysis.", backlog["n"])

        try:
            depth, up = queue_depth(), 1
        except Exception as exc:  # the broker being down is a figure, not a failed scrape
            log.warning("metrics: task queue depth unavailable: %s: %s", type(exc).__name__, exc)
            depth, up = 0, 0
        yield _gauge("proctorme_task_queue_depth", "Background tasks waiting to run.", depth)
        yield _gauge("proctorme_task_queue_up", "1 when the task queue answered.", up)

        deliveries = GaugeMetricFamily(
            "proctorme_webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
        )
        by_status = dict(WebhookDelivery.objects.values_list("status").annotate(n=Count("pk")))
        for status in WebhookDelivery.Status:
            deliveries.add_metric([status.value], by_status.get(status, 0))
        yield deliveries
        yield _gauge(
            "proctorme_webhook_attempts_failed_last_hour",
            "Webhook requests that failed (error or non-2xx) in the last hour.",
            WebhookAttempt.objects.filter(
                requested_at__gte=now - timedelta(hours=1), succeeded=False
            ).count(),
        )
        yield _gauge(
            "proctorme_webhook_endpoints_disabled",
            "Webhook endpoints switched off after repeated failures.",
            WebhookEndpoint.objects.filter(disabled_at__isnull=False).count(),
        )


_registry = CollectorRegistry(auto_describe=False)
_registry.register(PlatformCollector())


@never_cache
@require_GET
def metrics_view(request):
    if not is_operator_request(request):
        response = HttpResponse("Operator token required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="proctorme-ops"'
        return response
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
