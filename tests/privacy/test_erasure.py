"""Erasing a candidate: every table (every installed model, so a new one is searched too) and every
media file is free of them afterwards; other candidates, here and elsewhere, are untouched; the
counts (sessions per day, flags by type, candidate-hours) are the same."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.db.models.functions import TruncDate

from sessions.api.selectors import usage_by_day
from sessions.models import Accommodation, AuditLogEntry, Candidate, Flag, PrivacyRequest, ProctoringSession
from sessions.privacy import candidate_erase
from tests.privacy.seed import seed_candidate


def every_table() -> dict[str, list[str]]:
    """Every row of every model (auto-created join tables included) as JSON text."""
    return {
        model._meta.label: [
            json.dumps(row, default=str, ensure_ascii=False) for row in model._base_manager.values()
        ]
        for model in apps.get_models(include_auto_created=True)
    }


def every_file(root) -> dict[str, bytes]:
    found = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = handle.read()
    return found


def markers(seeded) -> list[str]:
    """Values that exist only because of this candidate: the token is in every personal field."""
    return [seeded.token, json.dumps(seeded.descriptor[3]), str(seeded.descriptor[5]), seeded.client_ip]


def rows_about(tables: dict[str, list[str]], seeded) -> dict[str, list[str]]:
    session_ids = {s.pk for s in seeded.sessions}
    public_ids = {str(s.public_id) for s in seeded.sessions}
    about = {}
    for label, rows in tables.items():
        picked = []
        for text in rows:
            row = json.loads(text)
            if (
                any(m in text for m in markers(seeded))
                or row.get("session_id") in session_ids
                or (label == "proctoring.proctoringsession" and row["id"] in session_ids)
                or (label == "proctoring.candidate" and row["id"] == seeded.candidate.pk)
                or any(p in text for p in public_ids)
            ):
                picked.append(text)
        if picked:
            about[label] = sorted(picked)
    return about


def aggregates() -> dict:
    per_day = Counter(
        (row["institution_id"], row["day"])
        for row in ProctoringSession.objects.annotate(day=TruncDate("started_at")).values(
            "institution_id", "day"
        )
    )
    by_type = Counter(
        (i, t, d is None) for i, t, d in Flag.objects.values_list("institution_id", "type", "dismissed_at")
    )
    today = date.today()
    usage = {
        s.institution_id: usage_by_day(institution=s.institution, first=today - timedelta(days=5), last=today)
        for s in ProctoringSession.objects.select_related("institution")
    }
    scores = sorted(
        ProctoringSession.objects.values_list("institution_id", "trust_score", "verdict", "status")
    )
    return {"per_day": per_day, "by_type": by_type, "usage": usage, "scores": scores}


@pytest.fixture
def three(tenant_a, tenant_b):
    erased = seed_candidate(tenant_a, "QZERASEDX", seed=1)
    neighbour = seed_candidate(tenant_a, "QZNEIGHBOURX", seed=2, colour=(200, 10, 30))
    elsewhere = seed_candidate(tenant_b, "QZELSEWHEREX", seed=3, colour=(30, 10, 200))
    return erased, neighbour, elsewhere


def test_erasure_leaves_nothing_of_the_candidate_in_any_table_or_media_folder(three, tenant_a, media_root):
    erased, neighbour, elsewhere = three
    before_tables, before_files, before_counts = every_table(), every_file(media_root), aggregates()
    # The seed really put the candidate everywhere the test then searches.
    assert sum(1 for rows in before_tables.values() for row in rows if erased.token in row) >= 20
    assert len(before_files) == 42 and set(erased.media.values()) <= set(before_files.values())

    done = candidate_erase(
        candidate=erased.candidate, actor=tenant_a.admin, actor_label=tenant_a.admin.email, via="admin"
    )

    after_tables, after_files = every_table(), every_file(media_root)
    for label, rows in after_tables.items():
        for row in rows:
            for marker in markers(erased):
                assert marker not in row, f"{label} still holds {marker!r}: {row}"
    tombstone = Candidate.objects.get(pk=erased.candidate.pk)
    assert (tombstone.first_name, tombstone.last_name, tombstone.email, tombstone.image_url) == (
        "",
        "",
        "",
        "",
    )
    assert tombstone.external_id == f"erased:{tombstone.public_id}" and tombstone.erased_at is not None
    for session in ProctoringSession.objects.filter(candidate=tombstone):
        assert session.analysis_state == {} and session.verdict_notes == "" and not session.media.exists()
        assert session.personal_data_deleted_at is not None and session.client_ip is None
    # No media file of theirs, in any folder; every file of the others is still there, byte for byte.
    assert not set(erased.media.values()) & set(after_files.values())
    assert not any(str(s.public_id) in path for s in erased.sessions for path in after_files)
    for other in (neighbour, elsewhere):
        assert set(other.media.values()) <= set(after_files.values())
        assert rows_about(after_tables, other) == rows_about(before_tables, other)
    assert len(after_files) == 28
    # Counts stay.
    assert aggregates() == before_counts
    # The audit entries stay (who did what, when), without their details.
    assert AuditLogEntry.objects.filter(candidate=tombstone, session=None).get().details == {"erased": True}
    # Audited: who, how, what counted; nothing personal in the entry.
    assert done.kind == PrivacyRequest.Kind.ERASURE and done.actor == tenant_a.admin
    assert done.candidate_public_id == erased.candidate.public_id
    assert done.counts["sessions"] == 2
    assert done.counts["media"] == {
        "audio": 2,
        "aux": 2,
        "evidence": 2,
        "frame": 2,
        "idcard": 2,
        "reference": 2,
        "snapshot": 2,
    }
    assert done.counts["accommodations"] == 1 and done.counts["auxDevices"] == 2
    assert not Accommodation.objects.filter(candidate=tombstone).exists()
    assert done.counts["descriptors"] == 4  # two snapshots' and two sessions' references
    assert done.counts["webhookDeliveries"] == 2 and done.counts["ltiAttempts"] == 2
    assert done.counts["mediaBytes"] == sum(len(b) for b in erased.media.values())


def test_erasure_cannot_reach_another_institution(three, tenant_b):
    erased, _neighbour, elsewhere = three
    other = Candidate.objects.get(pk=elsewhere.candidate.pk)
    # A candidate row handed over with a forged institution still erases only within its own.
    other.institution_id = erased.candidate.institution_id
    with pytest.raises(Candidate.DoesNotExist):
        candidate_erase(candidate=other, actor_label="x", via="api")
    assert Candidate.objects.get(pk=elsewhere.candidate.pk).first_name == f"Ada{elsewhere.token}"
    assert not PrivacyRequest.objects.exists()


def test_erasing_twice_is_harmless_and_recorded_twice(three, tenant_a):
    erased = three[0]
    candidate_erase(candidate=erased.candidate, actor_label="a", via="api")
    again = candidate_erase(candidate=erased.candidate, actor_label="a", via="api")
    assert again.counts["media"] == {} and again.counts["sessions"] == 2
    assert PrivacyRequest.objects.filter(kind="erasure").count() == 2


def _points_at(model, target, seen=()) -> bool:
    """A chain of foreign keys (or one-to-one fields) leads from model to target."""
    if model is target:
        return True
    for field in model._meta.get_fields():
        related = getattr(field, "related_model", None)
        forward = field.many_to_one or (field.one_to_one and field.concrete)
        if (
            forward
            and related is not None
            and related not in seen
            and _points_at(related, target, (*seen, model))
        ):
            return True
    return False


def test_every_model_that_hangs_off_a_candidate_is_covered_by_the_erasure():
    from sessions.privacy import ERASURE_COVERS

    hanging = {model._meta.label_lower for model in apps.get_models() if _points_at(model, Candidate)}
    assert hanging == set(ERASURE_COVERS), (
        "a model holds rows about a candidate: erase (and export) it in sessions/privacy.py, then list it"
    )
