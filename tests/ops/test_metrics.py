"""/metrics after a simulated session: real uploads, analysis, a failing webhook, the end."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from sessions.analysis_pipeline import session_analyse
from sessions.config import parse_eye
from sessions.models import MediaChunk
from sessions.services import flag_record, session_end, session_start
from tenants.models import WebhookDelivery
from tenants.services import webhook_endpoint_create

ORIGIN = "https://exams.alpha.edu"
TOKEN = "ops-token-for-tests-0123456789"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ops(settings):
    settings.PROCTORME_OPS_TOKEN = TOKEN
    settings.PROCTORME_OPS_NETWORKS = []


def _scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    print("\n/metrics:", json.dumps({f"{k[0]}{dict(k[1]) or ''}": v for k, v in samples.items()}, indent=1))
    return samples


def _value(samples, name, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _start(tenant, candidate):
    request = parse_eye(
        {
            "apiKey": tenant.publishable_key,
            "assessmentId": "stats",
            "assessmentTitle": "Statistics",
            "candidateId": candidate,
            "candidateEmail": f"{candidate}@alpha.edu",
            "candidateFirstName": "Ann",
            "candidateLastName": "Lyst",
            "institutionName": "Alpha",
            "examDuration": 3600,
        }
    )
    return session_start(request=request, origin=ORIGIN)


def _upload(client, started, items):
    files, meta = {}, []
    for i, (kind, seq, data) in enumerate(items):
        files[f"p{i}"] = SimpleUploadedFile(f"p{i}", data, content_type="application/octet-stream")
        item = {"part": f"p{i}", "kind": kind, "seq": seq, "capturedAt": timezone.now().isoformat()}
        if kind == "audio":
            item["durationMs"] = 1000
        meta.append(item)
    response = client.post(
        f"/widget/v1/sessions/{started.session.public_id}/media",
        {"meta": json.dumps({"items": meta}), **files},
        HTTP_AUTHORIZATION=f"Bearer {started.token}",
        HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code == 202, response.content


def _jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".jpg", np.full((240, 320, 3), 128, np.uint8))
    return data.tobytes()


def _wav() -> bytes:
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0\0" * 16000)
    return buffer.getvalue()


def test_metrics_follow_a_session_from_upload_to_end(
    client, tenant_a, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = True
    settings.PROCTORME_WEBHOOK_MAX_ATTEMPTS = 1
    monkeypatch.setattr("sessions.webhooks._sleep", lambda seconds: None)
    webhook_endpoint_create(institution=tenant_a.institution, url="http://127.0.0.1:9/hook")  # refused

    before = _scrape(client)
    assert _value(before, "proctorme_sessions_running") == 0

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        running = _start(tenant_a, "c-1")
        _start(tenant_a, "c-2")
        # Uploads are analysed after their transaction commits; in this test that never
        # happens by itself, so they wait, as they would behind a busy worker.
        _upload(client, running, [("frame", 1, _jpeg()), ("frame", 2, _jpeg()), ("audio", 1, _wav())])
        traveller.shift(timedelta(seconds=20))

        during = _scrape(client)
        assert _value(during, "proctorme_sessions_running") == 2
        assert _value(during, "proctorme_uploads_per_second", kind="frame") == pytest.approx(2 / 60)
        assert _value(during, "proctorme_uploads_per_second", kind="audio") == pytest.approx(1 / 60)
        assert _value(during, "proctorme_uploads_per_second", kind="snapshot") == 0
        assert _value(during, "proctorme_analysis_lag_seconds") == pytest.approx(20, abs=1)
        assert _value(during, "proctorme_analysis_backlog") == 3
        assert _value(during, "proctorme_task_queue_depth") == 0  # tests run tasks inline
        assert _value(during, "proctorme_task_queue_up") == 1

        session_analyse(session=running.session)
        with django_capture_on_commit_callbacks(execute=True):
            flag_record(
                session=running.session,
                type="TAB_NOT_FOCUS",
                episode_key="tab-1",
                started_at=timezone.now(),
                ended_at=timezone.now(),
            )
        session_end(session=running.session, reason="ended")
        traveller.shift(timedelta(seconds=61))
        after = _scrape(client)

    assert WebhookDelivery.objects.get().status == "failed"
    assert _value(after, "proctorme_sessions_running") == 1
    assert _value(after, "proctorme_sessions_finalising") == 1  # its finalise task waits for a commit
    assert _value(after, "proctorme_analysis_lag_seconds") == 0
    assert _value(after, "proctorme_analysis_backlog") == 0
    assert _value(after, "proctorme_uploads_per_second", kind="frame") == 0  # the minute is over
    assert _value(after, "proctorme_webhook_deliveries", status="failed") == 1
    assert _value(after, "proctorme_webhook_attempts_failed_last_hour") == 1
    assert not MediaChunk.objects.filter(analysed_at__isnull=True).exists()


def test_metrics_need_the_operator_token_or_network(client, db, settings):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    import ipaddress

    settings.PROCTORME_OPS_NETWORKS = [ipaddress.ip_network("10.1.0.0/16")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 401
