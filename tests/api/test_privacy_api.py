"""Privacy requests and the PDF report through the REST API: the owner's key works, another
institution's key gets NOT_FOUND (like a missing id) and changes nothing, a publishable key is
refused; the export archive is read back and checked against the database."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile

import pytest

from sessions.models import (
    AuditLogEntry,
    Candidate,
    Event,
    Flag,
    MediaChunk,
    PrivacyRequest,
    ProctoringSession,
)
from tests.api.api_factories import client_for, error_of
from tests.privacy.seed import seed_candidate


@pytest.fixture
def seeded(tenant_a):
    return seed_candidate(tenant_a, "QZAPIX", seed=11)


def _archive(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_export_archive_holds_everything_the_database_holds(api_a, seeded):
    candidate = seeded.candidate
    response = api_a.get(f"/api/v1/candidates/{candidate.public_id}/export")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="candidate-{candidate.public_id}-'
    )
    archive = _archive(response)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "proctorme.candidate-export.v1"
    assert manifest["candidate"] == {
        "id": str(candidate.public_id),
        "externalId": candidate.external_id,
        "email": candidate.email,
        "firstName": candidate.first_name,
        "lastName": "نور",
        "imageUrl": candidate.image_url,
        "createdAt": manifest["candidate"]["createdAt"],
        "erasedAt": None,
    }
    sessions = ProctoringSession.objects.filter(candidate=candidate).order_by("started_at")
    assert [s["id"] for s in manifest["sessions"]] == [str(s.public_id) for s in sessions]
    for exported, session in zip(manifest["sessions"], sessions, strict=True):
        assert exported["attemptId"] == session.attempt_id
        assert exported["clientIp"] == session.client_ip == "198.51.100.111"
        assert exported["verdictNotes"] == session.verdict_notes == f"Notes about {seeded.token}"
        assert exported["analysisState"]["identity"]["reference"] == seeded.descriptor
        assert {f["id"] for f in exported["flags"]} == {
            str(f.public_id) for f in Flag.objects.filter(session=session)
        }
        assert {e["id"] for e in exported["events"]} == {
            str(e.public_id) for e in Event.objects.filter(session=session)
        }
        assert {a["id"] for a in exported["auditLog"]} == {
            str(a.public_id) for a in AuditLogEntry.objects.filter(session=session)
        }
        assert exported["lmsAttempt"]["claims"]["name"] == f"Ada{seeded.token}"
        assert [d["event"] for d in exported["webhookDeliveries"]] == ["session.completed"]
        chunks = MediaChunk.objects.filter(session=session)
        assert {m["id"] for m in exported["media"]} == {str(c.public_id) for c in chunks}
        for item in exported["media"]:
            content = archive.read(item["file"])
            expected = seeded.media[f"{session.public_id}/{item['kind']}-{item['seq']}"]
            assert content == expected
            assert item["sha256"] == hashlib.sha256(expected).hexdigest() and item["size"] == len(expected)
        snapshot = next(m for m in exported["media"] if m["kind"] == "snapshot")
        assert snapshot["meta"]["obs"]["descriptor"] == seeded.descriptor
        assert exported["auxDevices"][0]["userAgent"] == f"Phone of {seeded.token}"
    assert [a["note"] for a in manifest["accommodations"]] == [f"Reads slowly ({seeded.token})"]
    assert [a["action"] for a in manifest["auditLog"]] == ["accommodation_set"]
    # Fourteen files and the manifest: nothing else, nobody else's.
    assert len(archive.namelist()) == 15
    recorded = PrivacyRequest.objects.get()
    assert (recorded.kind, recorded.via, recorded.candidate_public_id) == (
        "export",
        "api",
        candidate.public_id,
    )
    assert recorded.actor_label.startswith("api key sk_") and recorded.counts["media"] == 14


def test_the_export_is_not_found_for_an_outsider_and_refused_to_a_publishable_key(api_b, tenant_a, seeded):
    path = f"/api/v1/candidates/{seeded.candidate.public_id}/export"
    outsider = api_b.get(path)
    assert outsider.status_code == 404 and outsider["Content-Type"] == "application/json"
    assert outsider.json() == api_b.get(f"/api/v1/candidates/{uuid.uuid4()}/export").json()
    assert error_of(outsider)["code"] == "NOT_FOUND"
    assert client_for(tenant_a.publishable_key).get(path).status_code == 401
    assert client_for(None).get(path).status_code == 401
    assert not PrivacyRequest.objects.exists()


def test_the_owner_erases_a_candidate_and_the_answer_counts_what_went(api_a, seeded):
    response = api_a.post(f"/api/v1/candidates/{seeded.candidate.public_id}/erase")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["kind"] == "erasure" and body["candidateId"] == str(seeded.candidate.public_id)
    assert body["counts"]["sessions"] == 2 and sum(body["counts"]["media"].values()) == 14
    candidate = api_a.get(f"/api/v1/candidates/{seeded.candidate.public_id}").json()
    assert candidate["email"] == "" and candidate["firstName"] == "" and candidate["erasedAt"]
    assert candidate["externalId"] == f"erased:{seeded.candidate.public_id}"
    assert not MediaChunk.objects.filter(session__candidate=seeded.candidate).exists()


def test_an_outsider_cannot_erase_and_nothing_changes(api_b, tenant_a, seeded):
    path = f"/api/v1/candidates/{seeded.candidate.public_id}/erase"
    outsider = api_b.post(path)
    assert outsider.status_code == 404 and error_of(outsider)["code"] == "NOT_FOUND"
    assert outsider.json() == api_b.post(f"/api/v1/candidates/{uuid.uuid4()}/erase").json()
    assert client_for(tenant_a.publishable_key).post(path).status_code == 401
    assert Candidate.objects.get(pk=seeded.candidate.pk).email == seeded.candidate.email
    assert MediaChunk.objects.filter(session__candidate=seeded.candidate).count() == 14
    assert not PrivacyRequest.objects.exists()


def test_the_pdf_report_for_the_owner_and_not_found_for_an_outsider(api_a, api_b, seeded):
    path = f"/api/v1/sessions/{seeded.sessions[0].public_id}/report.pdf"
    owner = api_a.get(path)
    assert owner.status_code == 200 and owner["Content-Type"] == "application/pdf"
    assert owner.content[:5] == b"%PDF-"
    assert (
        owner["Content-Disposition"]
        == f'attachment; filename="session-report-{seeded.sessions[0].public_id}.pdf"'
    )
    # A client that asks for PDF gets it; errors stay JSON.
    assert api_a.get(path, HTTP_ACCEPT="application/pdf").status_code == 200
    outsider = api_b.get(path, HTTP_ACCEPT="application/pdf")
    assert outsider.status_code == 404 and outsider["Content-Type"] == "application/json"
    assert error_of(outsider)["code"] == "NOT_FOUND"
    assert api_b.get(f"/api/v1/sessions/{uuid.uuid4()}/report.pdf").json() == outsider.json()


def test_retention_days_per_assessment_through_the_api(api_a, api_b):
    created = api_a.post("/api/v1/assessments", {"externalId": "final", "retentionDays": 30}, format="json")
    assert created.status_code == 201 and created.json()["retentionDays"] == 30
    path = f"/api/v1/assessments/{created.json()['id']}"
    for bad in (0, 3651, "many"):
        refused = api_a.patch(path, {"retentionDays": bad}, format="json")
        assert refused.status_code == 400
        assert (
            error_of(refused)["code"] == "VALIDATION_ERROR"
            and "retentionDays" in error_of(refused)["details"]["fields"]
        )
    assert api_a.patch(path, {"retentionDays": 3650}, format="json").json()["retentionDays"] == 3650
    assert api_a.patch(path, {"retentionDays": None}, format="json").json()["retentionDays"] is None
    assert api_b.patch(path, {"retentionDays": 5}, format="json").status_code == 404
    assert api_a.get(path).json()["retentionDays"] is None


def test_a_candidate_with_a_running_session_is_not_erased(api_a, seeded):
    running = seeded.sessions[1]
    ProctoringSession.objects.filter(pk=running.pk).update(status="active", ended_at=None)
    refused = api_a.post(f"/api/v1/candidates/{seeded.candidate.public_id}/erase")
    assert refused.status_code == 409
    error = error_of(refused)
    assert error["code"] == "CANDIDATE_SESSION_RUNNING" and error["details"] == {
        "sessions": [str(running.public_id)]
    }
    assert Candidate.objects.get(pk=seeded.candidate.pk).erased_at is None
    assert MediaChunk.objects.filter(session__candidate=seeded.candidate).count() == 14
    assert not PrivacyRequest.objects.exists()
