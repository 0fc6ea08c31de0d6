"""One session, one score and one flag count: the API, the dashboard, webhooks and the CSV export agree.

The session has what made them disagree before: random photos (evidence, not
flags against the candidate), a flag a reviewer dismissed, and a stored
breakdown as finalising writes it.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sessions.finalise import session_finalise
from sessions.models import Flag
from sessions.services import session_end
from sessions.webhooks import session_completed_payload
from tests.factories import FlagFactory, SessionFactory


@pytest.fixture
def scored(tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TASKS_MODE = "sync"
    session = SessionFactory(institution=tenant_a.institution, started_ago=timedelta(minutes=30))
    for n in range(3):
        FlagFactory(session=session, type="TAB_NOT_FOCUS", at_seconds=60 + n * 120, seconds=15)
    FlagFactory(session=session, type="MULTIPLE_FACE", at_seconds=400, seconds=20)
    for n in range(25):
        FlagFactory(session=session, type="PERIODIC_SNAPSHOT", at_seconds=30 + n * 60, seconds=0)
    FlagFactory(session=session, type="FACE_ABSENCE", at_seconds=900, seconds=30, dismissed_at=timezone.now())
    session = session_end(session=session, reason="ended")
    session = session_finalise(session=session)
    session.refresh_from_db()
    assert session.status == "completed" and session.score_final and session.trust_score < 100
    return session


def test_api_dashboard_webhooks_and_csv_give_the_same_flag_count_and_score(client, scored, tenant_a):
    expected_flags = (
        Flag.objects.filter(session=scored, dismissed_at=None).exclude(type="PERIODIC_SNAPSHOT").count()
    )
    assert expected_flags == 4

    from tests.api.api_factories import client_for

    api = client_for(tenant_a.secret_key)
    detail = api.get(f"/api/v1/sessions/{scored.public_id}").json()
    listed = api.get("/api/v1/sessions").json()["results"][0]
    report = api.get(f"/api/v1/sessions/{scored.public_id}/report").json()

    client.force_login(tenant_a.reviewer)
    page = client.get(reverse("dashboard:sessions"))
    row = next(s for s in page.context["page"].object_list if s.pk == scored.pk)
    score_view = client.get(reverse("dashboard:session", args=[scored.public_id])).context["score"]
    exported = list(
        csv.DictReader(
            io.StringIO(b"".join(client.get(reverse("dashboard:sessions-csv")).streaming_content).decode())
        )
    )

    webhook = session_completed_payload(session=scored)

    assert (
        detail["flagCount"] == listed["flagCount"] == row.flag_count == webhook["flagCount"] == expected_flags
    )
    assert int(exported[0]["flags"]) == expected_flags
    score = scored.trust_score
    assert (
        detail["trustScore"] == report["trustScore"] == score_view.automatic == webhook["trustScore"] == score
    )
    assert float(exported[0]["trust_score"]) == score
    band = detail["riskBand"]
    assert (
        report["riskBand"]
        == webhook["riskBand"]
        == score_view.band
        == row.band
        == exported[0]["risk"]
        == band
    )
    assert report["breakdown"] == webhook["breakdown"] == score_view.breakdown
    # The automatic score counts every flag; the reviewed one leaves the dismissed out.
    assert {r["type"] for r in report["breakdown"]} == {"TAB_NOT_FOCUS", "MULTIPLE_FACE", "FACE_ABSENCE"}
    assert report["reviewedScore"] == score_view.reviewed == scored.reviewed_score > score
    assert round(sum(r["deduction"] for r in report["breakdown"]), 1) == round(100 - score, 1)


def test_every_surface_names_the_accommodation_the_score_was_computed_with(
    client, tenant_a, settings, tmp_path
):
    from sessions.accommodations import accommodation_data, accommodation_set
    from tests.api.api_factories import client_for

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TASKS_MODE = "sync"
    session = SessionFactory(institution=tenant_a.institution, started_ago=timedelta(minutes=30))
    accommodation = accommodation_set(
        candidate=session.candidate,
        assessment=session.assessment,
        time_multiplier="1.50",
        disabled_detectors=["SOUND_DETECTED"],
        note="Reads the questions aloud",
    )
    # As a session that started with it records it (sessions.services._accommodation_apply).
    session.config = {**session.config, "accommodation": accommodation_data(accommodation)}
    session.save(update_fields=["config"])
    FlagFactory(session=session, type="SOUND_DETECTED", at_seconds=60, seconds=90)
    FlagFactory(session=session, type="TAB_NOT_FOCUS", at_seconds=300, seconds=20)
    session = session_finalise(session=session_end(session=session, reason="ended"))
    session.refresh_from_db()
    expected = {
        "id": str(accommodation.public_id),
        "scope": "assessment",
        "extraSeconds": 0,
        "timeMultiplier": 1.5,
        "disabledDetectors": ["SOUND_DETECTED"],
        "note": "Reads the questions aloud",
    }
    api = client_for(tenant_a.secret_key)
    detail = api.get(f"/api/v1/sessions/{session.public_id}").json()
    report = api.get(f"/api/v1/sessions/{session.public_id}/report").json()
    webhook = session_completed_payload(session=session)
    client.force_login(tenant_a.reviewer)
    score_view = client.get(reverse("dashboard:session", args=[session.public_id])).context["score"]
    exported = list(
        csv.DictReader(
            io.StringIO(b"".join(client.get(reverse("dashboard:sessions-csv")).streaming_content).decode())
        )
    )
    assert session.trust_breakdown["accommodation"] == expected
    assert detail["accommodation"] == report["accommodation"] == webhook["accommodation"] == expected
    assert score_view.accommodation == expected
    assert exported[0]["accommodation"] == "×1.50; off: SOUND_DETECTED"
    # The switched-off detector is not in the breakdown; the others still are.
    assert (
        [r["type"] for r in report["breakdown"]]
        == ["TAB_NOT_FOCUS"]
        == [r["type"] for r in webhook["breakdown"]]
    )
