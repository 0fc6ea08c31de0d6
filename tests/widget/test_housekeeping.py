from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from sessions.models import Flag, MediaChunk, ProctoringSession
from tests.factories import AssessmentFactory, CandidateFactory, FlagFactory, MediaFactory, SessionFactory


def _ended_session(tenant, ended_days_ago: int):
    institution = tenant.institution
    ended = timezone.now() - timedelta(days=ended_days_ago)
    session = SessionFactory(
        institution=institution,
        assessment=AssessmentFactory(institution=institution, external_id="a"),
        candidate=CandidateFactory(institution=institution, external_id=f"c{ended_days_ago}"),
        attempt_id=f"x{ended_days_ago}",
        ended_at=ended,
    )
    chunk = MediaFactory(session=session, captured_at=ended, data=b"\xff\xd8data\xff\xd9")
    FlagFactory(
        session=session,
        type="FACE_ABSENCE",
        episode_key="k",
        started_at=ended,
        ended_at=None,
        seconds=0,
        evidence=chunk,
    )
    return session, chunk


def test_media_past_retention_is_deleted_and_flags_stay(tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    tenant_a.institution.retention_days = 30
    tenant_a.institution.save()
    old, old_chunk = _ended_session(tenant_a, 31)
    recent, recent_chunk = _ended_session(tenant_a, 5)
    old_path = old_chunk.file.path
    out = StringIO()
    call_command("housekeeping", stdout=out)
    assert "purged_media: 1" in out.getvalue()
    assert not MediaChunk.objects.filter(session=old).exists()
    assert MediaChunk.objects.filter(session=recent).count() == 1
    assert not (tmp_path / old_path).exists()
    flag = Flag.objects.get(session=old)
    assert flag.evidence is None


def test_the_beat_schedule_ends_sessions_whose_browser_vanished(tenant_a):
    from proctorme.tasks import run_beat_schedule_once, start_embedded_scheduler

    session, _ = _ended_session(tenant_a, 0)
    ProctoringSession.objects.filter(pk=session.pk).update(
        status="active", ended_at=None, deadline_at=timezone.now() - timedelta(seconds=1)
    )
    start_embedded_scheduler()  # tests run in sync mode: no thread is started
    from proctorme import tasks

    assert tasks._scheduler is None
    run_beat_schedule_once()
    session.refresh_from_db()
    assert session.status != "active" and session.end_reason == "time_up"
