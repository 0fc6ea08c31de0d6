"""Media on S3-compatible storage (django-storages), against a real S3 protocol
server on loopback (moto's): an upload lands in the bucket, not on disk, the
analysis reads it back from there, and the signed evidence link serves it."""

from __future__ import annotations

import json
from datetime import timedelta

import cv2
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from sessions.config import parse_eye
from sessions.models import MediaChunk
from sessions.services import session_start
from tests.conftest import require

ORIGIN = "https://exams.alpha.edu"
BUCKET = "proctorme-media"


@pytest.fixture
def s3_endpoint():
    try:
        from moto import server as moto_server
    except ImportError:
        moto_server = None
    require(moto_server is not None, "moto[server] is not installed (pip install -r requirements-dev.txt)")
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def _s3_storages(endpoint: str, tmp_path, monkeypatch) -> dict:
    from django.conf import settings

    from proctorme.env import env_media_storage

    for name, value in {
        "MEDIA_S3_BUCKET": BUCKET,
        "MEDIA_S3_ENDPOINT_URL": endpoint,
        "MEDIA_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }.items():
        monkeypatch.setenv(name, value)
    return {**settings.STORAGES, "default": env_media_storage()}


def test_media_goes_to_the_bucket_and_is_analysed_and_served_from_there(
    client, tenant_a, s3_endpoint, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    import boto3

    # MEDIA_ROOT points at an empty folder: the test checks that nothing is written there.
    with override_settings(
        STORAGES=_s3_storages(s3_endpoint, tmp_path, monkeypatch), MEDIA_ROOT=str(tmp_path)
    ):
        started = session_start(
            request=parse_eye(
                {
                    "apiKey": tenant_a.publishable_key,
                    "assessmentId": "s3",
                    "assessmentTitle": "Storage",
                    "candidateId": "c-s3",
                    "candidateEmail": "c@alpha.edu",
                    "candidateFirstName": "C",
                    "candidateLastName": "Three",
                    "institutionName": "Alpha",
                    "examDuration": 3600,
                }
            ),
            origin=ORIGIN,
        )
        image = np.full((240, 320, 3), 90, np.uint8)
        jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 60])[1].tobytes()
        captured = started.session.started_at + timedelta(seconds=1)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/widget/v1/sessions/{started.session.public_id}/media",
                {
                    "meta": json.dumps(
                        {
                            "items": [
                                {"part": "p0", "kind": "frame", "seq": 1, "capturedAt": captured.isoformat()}
                            ]
                        }
                    ),
                    "p0": SimpleUploadedFile("p0", jpeg, content_type="application/octet-stream"),
                },
                HTTP_AUTHORIZATION=f"Bearer {started.token}",
                HTTP_ORIGIN=ORIGIN,
            )
        assert response.status_code == 202, response.content
        chunk = MediaChunk.objects.get(session=started.session, kind="frame", seq=1)
        # Nothing on the local disk; the object is in the bucket with the same bytes.
        assert not any(tmp_path.rglob("*.jpg")) and not any(p.is_file() for p in tmp_path.rglob("*"))
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="k",
            aws_secret_access_key="s",
        )
        stored = s3.get_object(Bucket=BUCKET, Key=chunk.file.name)["Body"].read()
        assert stored == jpeg
        # The analysis read it back from the bucket.
        chunk.refresh_from_db()
        assert chunk.analysed_at is not None
        from sessions.media import media_signed_url

        served = client.get(media_signed_url(chunk, absolute=False))
        assert served.status_code == 200 and served.content == jpeg
