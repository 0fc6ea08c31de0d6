"""Privacy requests in the admin: an institution's admin exports and erases their candidates; a
reviewer has no admin; another institution's admin gets 404 and changes nothing. Assessments
carry their retention override, validated where it is written."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.urls import reverse

from sessions.models import Candidate, MediaChunk, PrivacyRequest
from tests.privacy.seed import seed_candidate


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def seeded(tenant_a):
    return seed_candidate(tenant_a, "QZADMX", seed=31)


def test_the_owners_admin_exports_the_candidate(client, tenant_a, seeded):
    client.force_login(tenant_a.admin)
    page = client.get(
        reverse("admin:proctoring_candidate_change", args=[seeded.candidate.pk])
    ).content.decode()
    export = reverse("admin:proctoring_candidate_export", args=[seeded.candidate.pk])
    assert export in page and reverse("admin:proctoring_candidate_erase", args=[seeded.candidate.pk]) in page
    response = client.get(export)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["candidate"]["email"] == seeded.candidate.email and len(manifest["sessions"]) == 2
    recorded = PrivacyRequest.objects.get()
    assert (recorded.kind, recorded.via, recorded.actor) == ("export", "admin", tenant_a.admin)


def test_the_owners_admin_erases_after_a_confirmation(client, tenant_a, seeded):
    client.force_login(tenant_a.admin)
    url = reverse("admin:proctoring_candidate_erase", args=[seeded.candidate.pk])
    confirm = client.get(url)
    assert (
        confirm.status_code == 200
        and b"Yes, erase" in confirm.content
        and b"14 media file(s)" in confirm.content
    )
    assert Candidate.objects.get(pk=seeded.candidate.pk).erased_at is None  # a GET erases nothing
    done = client.post(url, follow=True)
    assert done.status_code == 200 and b"Erased: 2 session(s), 14 media file(s)" in done.content
    candidate = Candidate.objects.get(pk=seeded.candidate.pk)
    assert candidate.erased_at and candidate.email == ""
    assert not MediaChunk.objects.filter(session__candidate=candidate).exists()
    recorded = PrivacyRequest.objects.get()
    assert (recorded.kind, recorded.via, recorded.actor_label) == ("erasure", "admin", tenant_a.admin.email)
    assert "QZADMX" not in json.dumps(recorded.counts) + recorded.actor_label


def test_a_reviewer_has_no_privacy_buttons(client, tenant_a, seeded):
    client.force_login(tenant_a.reviewer)
    for name in ("export", "erase"):
        url = reverse(f"admin:proctoring_candidate_{name}", args=[seeded.candidate.pk])
        assert client.get(url).status_code == 302
        assert client.post(url).status_code == 302
    assert Candidate.objects.get(pk=seeded.candidate.pk).erased_at is None
    assert not PrivacyRequest.objects.exists()


def test_another_institutions_admin_gets_404_and_changes_nothing(client, tenant_b, seeded):
    client.force_login(tenant_b.admin)
    for name in ("change", "export", "erase"):
        url = reverse(f"admin:proctoring_candidate_{name}", args=[seeded.candidate.pk])
        assert client.get(url).status_code == 404
    assert (
        client.post(reverse("admin:proctoring_candidate_erase", args=[seeded.candidate.pk])).status_code
        == 404
    )
    assert Candidate.objects.get(pk=seeded.candidate.pk).erased_at is None
    assert "QZADMX" not in client.get(reverse("admin:proctoring_candidate_changelist")).content.decode()
    assert not PrivacyRequest.objects.exists()


def test_the_retention_override_is_validated_in_the_admin(client, tenant_a, seeded):
    assessment = seeded.sessions[0].assessment
    client.force_login(tenant_a.admin)
    url = reverse("admin:proctoring_assessment_change", args=[assessment.pk])
    form = {
        "institution": tenant_a.institution.pk,
        "external_id": assessment.external_id,
        "title": assessment.title,
        "duration_seconds": 3600,
        "detector_settings": "{}",
    }
    refused = client.post(url, {**form, "retention_days": 0})
    assert refused.status_code == 200 and "retention_days" in refused.context["adminform"].form.errors
    assert client.post(url, {**form, "retention_days": 14}).status_code == 302
    assessment.refresh_from_db()
    assert assessment.retention_days == 14


def test_the_admin_says_why_a_candidate_with_a_running_session_is_not_erased(client, tenant_a, seeded):
    from sessions.models import ProctoringSession

    ProctoringSession.objects.filter(pk=seeded.sessions[0].pk).update(status="finalising")
    client.force_login(tenant_a.admin)
    page = client.post(reverse("admin:proctoring_candidate_erase", args=[seeded.candidate.pk]), follow=True)
    assert b"end it before erasing their data" in page.content
    assert Candidate.objects.get(pk=seeded.candidate.pk).erased_at is None
