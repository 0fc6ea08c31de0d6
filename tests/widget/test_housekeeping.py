from datetime import timedelta
from io import StringIO

from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from sessions.models import Assessment, Candidate, Flag, MediaChunk, ProctoringSession


def _ended_session(tenant, ended_days_ago: int):
    institution = tenant.institution
    assessment, _ = Assessment.objects.get_or_create(institution=institution, external_id="a")
    candidate = Candidate.objects.create(institution=institution, external_id=f"c{ended_days_ago}")
    ended = timezone.now() - timedelta(days=ended_days_ago)
    session = ProctoringSession.objects.create(
        institution=institution,
        assessment=assessment,
        candidate=candidate,
        attempt_id=f"x{ended_days_ago}",
        status="completed",
        ended_at=ended,
    )
    chunk = MediaChunk(
        institution=institution,
        session=session,
        kind="frame",
        seq=1,
        captured_at=ended,
        content_type="image/jpeg",
    )
    chunk.file.save(f"t/{session.public_id}.jpg", ContentFile(b"\xff\xd8data\xff\xd9"))
    Flag.objects.create(
        institution=institution,
        session=session,
        type="FACE_ABSENCE",
        episode_key="k",
        started_at=ended,
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
