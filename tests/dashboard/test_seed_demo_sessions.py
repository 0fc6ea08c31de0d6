"""`make run` seeds Demo Academy with sessions analysed by the real pipeline."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import require

pytestmark = pytest.mark.slow


def test_demo_sessions_are_real_and_seeding_is_idempotent(db):
    from sessions.models import Flag, MediaChunk, ProctoringSession

    require(Path("/usr/share/doc/opencv-doc/opencv4/html").exists(), "opencv-doc is not installed")
    require(shutil.which("espeak-ng") is not None, "espeak-ng is not installed")
    call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("seed_demo_sessions", stdout=out, stderr=io.StringIO())
    assert "6 made" in out.getvalue()

    sessions = ProctoringSession.objects.filter(institution__slug="demo-academy")
    assert sessions.filter(status="completed", score_final=True).count() == 5
    assert sessions.filter(status="active").count() == 1
    types = set(Flag.objects.filter(session__in=sessions).values_list("type", flat=True))
    assert {"FACE_ABSENCE", "MULTIPLE_FACE", "SOUND_DETECTED", "FACE_MISMATCH", "TAB_NOT_FOCUS"} <= types
    sound = Flag.objects.get(session__in=sessions, type="SOUND_DETECTED")
    assert sound.evidence.content_type == "audio/wav"
    assert Flag.objects.filter(session__in=sessions, type="MULTIPLE_FACE", evidence__kind="frame").exists()
    bands = {s.candidate.first_name: s.trust_score for s in sessions.select_related("candidate")}
    assert bands["Ada"] >= 85 and bands["Grace"] < 60 and bands["Katherine"] < 60
    assert (
        MediaChunk.objects.filter(session__in=sessions, analysed_at__isnull=True, kind="frame").count() == 0
    )

    again = io.StringIO()
    call_command("seed_demo_sessions", stdout=again)
    assert "0 made, 6 already there" in again.getvalue()
