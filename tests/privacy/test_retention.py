"""Retention covers all personal data, with a per-assessment override; the purge is bounded per
institution (a value written past the validators neither overflows nor stops anyone else)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from sessions.models import Assessment, Candidate, Event, Flag, MediaChunk, PrivacyRequest, ProctoringSession
from sessions.privacy import retention_purge_expired
from tests.factories import (
    AssessmentFactory,
    CandidateFactory,
    EventFactory,
    FlagFactory,
    MediaFactory,
    SessionFactory,
)


def _ended(institution, *, days_ago: int, assessment=None, candidate=None):
    ended = timezone.now() - timedelta(days=days_ago)
    session = SessionFactory(
        institution=institution,
        assessment=assessment or AssessmentFactory(institution=institution),
        candidate=candidate or CandidateFactory(institution=institution),
        ended_at=ended,
        started_at=ended - timedelta(minutes=30),
        analysis_state={"identity": {"reference": [0.5, 0.25]}},
        verdict_notes="seen by the reviewer",
        client_ip="192.0.2.44",
        trust_score=80.0,
    )
    session.refresh_from_db()
    chunk = MediaFactory(session=session, kind="snapshot", meta={"obs": {"descriptor": [0.5, 0.25]}})
    FlagFactory(session=session, evidence=chunk, payload={"origin": "x"})
    EventFactory(
        session=session,
        type="COPY_PASTE",
        source="browser",
        client_seq=1,
        payload={"action": "copy"},
        started_at=session.started_at,
    )
    return session


def _purged(session) -> bool:
    session.refresh_from_db()
    return (
        session.personal_data_deleted_at is not None
        and not MediaChunk.objects.filter(session=session).exists()
        and session.analysis_state == {}
        and session.verdict_notes == ""
        and session.client_ip is None
        and Event.objects.get(session=session).payload == {}
        and Flag.objects.get(session=session).payload == {}
    )


def test_an_assessment_override_shortens_and_lengthens_the_institutions_retention(tenant_a):
    institution = tenant_a.institution
    institution.retention_days = 20
    institution.save()
    short = AssessmentFactory(institution=institution, external_id="short", retention_days=7)
    long = AssessmentFactory(institution=institution, external_id="long", retention_days=60)
    plain = AssessmentFactory(institution=institution, external_id="plain")
    short_old = _ended(institution, days_ago=10, assessment=short)
    short_new = _ended(institution, days_ago=3, assessment=short)
    long_old = _ended(institution, days_ago=30, assessment=long)
    plain_old = _ended(institution, days_ago=30, assessment=plain)
    plain_new = _ended(institution, days_ago=10, assessment=plain)

    assert retention_purge_expired() == 2  # media chunks deleted: short_old's and plain_old's

    assert _purged(short_old) and _purged(plain_old)
    assert not any(_purged(s) for s in (short_new, long_old, plain_new))
    # Their candidates had no other session: tombstoned, and recorded without personal data.
    for session in (short_old, plain_old):
        candidate = Candidate.objects.get(pk=session.candidate_id)
        assert candidate.erased_at and candidate.email == "" and candidate.first_name == ""
    assert PrivacyRequest.objects.filter(kind="retention").count() == 2
    # Counts stay: the sessions, their scores and their flags by type.
    assert ProctoringSession.objects.filter(institution=institution).count() == 5
    assert Flag.objects.filter(institution_id=institution.pk, type="FACE_ABSENCE").count() == 5
    # A second run finds nothing more.
    assert retention_purge_expired() == 0


def test_a_candidate_with_a_session_still_within_retention_keeps_their_name(tenant_a):
    institution = tenant_a.institution
    institution.retention_days = 20
    institution.save()
    candidate = CandidateFactory(institution=institution, first_name="Kept")
    old = _ended(institution, days_ago=30, candidate=candidate)
    recent = _ended(institution, days_ago=2, candidate=candidate)
    retention_purge_expired()
    assert _purged(old) and not _purged(recent)
    assert Candidate.objects.get(pk=candidate.pk).first_name == "Kept"


def test_a_huge_override_elsewhere_neither_overflows_nor_stops_the_purge(tenant_a, tenant_b):
    tenant_a.institution.retention_days = 5
    tenant_a.institution.save()
    elsewhere = AssessmentFactory(institution=tenant_b.institution, external_id="forever")
    # Written past the validators (raw SQL, an old row).
    Assessment.objects.filter(pk=elsewhere.pk).update(retention_days=2**31 - 1)
    theirs = _ended(tenant_b.institution, days_ago=4000, assessment=elsewhere)
    ours = _ended(tenant_a.institution, days_ago=10)
    assert retention_purge_expired() == 2
    assert _purged(ours) and _purged(theirs)  # clamped to 3650 days, which 4000 days exceed


def test_one_institution_failing_does_not_stop_the_others(tenant_a, tenant_b, monkeypatch):
    from sessions import privacy

    for tenant in (tenant_a, tenant_b):
        tenant.institution.retention_days = 5
        tenant.institution.save()
    broken = _ended(tenant_a.institution, days_ago=10)
    fine = _ended(tenant_b.institution, days_ago=10)
    original = privacy._sessions_personal_data_delete

    def failing(*, institution_id, session_ids):
        if institution_id == tenant_a.institution.pk:
            raise OSError("storage unavailable")
        return original(institution_id=institution_id, session_ids=session_ids)

    monkeypatch.setattr(privacy, "_sessions_personal_data_delete", failing)
    retention_purge_expired()
    assert _purged(fine) and not _purged(broken)


@pytest.mark.parametrize("days", [0, 3651, 2**31 - 1])
def test_an_override_outside_1_to_3650_days_is_refused_where_it_is_written(tenant_a, days):
    assessment = AssessmentFactory(institution=tenant_a.institution, retention_days=days)
    with pytest.raises(ValidationError) as caught:
        assessment.full_clean()
    assert "retention_days" in caught.value.message_dict


def test_the_consent_screen_is_told_the_assessments_own_retention(client, tenant_a):
    from tests.widget.test_session_start import eye_config, start

    tenant_a.institution.retention_days = 90
    tenant_a.institution.save()
    first = start(client, {"dialect": "eye", "config": eye_config(tenant_a)}).json()
    assert first["settings"]["retentionDays"] == 90
    Assessment.objects.filter(institution=tenant_a.institution, external_id="math-101").update(
        retention_days=14
    )
    again = start(client, {"dialect": "eye", "config": eye_config(tenant_a, candidateId="cand-8")}).json()
    assert again["settings"]["retentionDays"] == 14


def test_the_purge_goes_in_batches_and_misses_nobody(tenant_a, monkeypatch):
    from sessions import privacy

    monkeypatch.setattr(privacy, "RETENTION_BATCH", 2)
    tenant_a.institution.retention_days = 5
    tenant_a.institution.save()
    sessions = [_ended(tenant_a.institution, days_ago=10) for _ in range(5)]
    assert retention_purge_expired() == 5
    assert all(_purged(s) for s in sessions)
    assert PrivacyRequest.objects.filter(kind="retention").count() == 5
