"""Verdicts and dismissed flags: the reviewed score beside the automatic one, and the audit log."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sessions.dashboard.services import ReviewError, flag_dismiss, flag_restore, session_verdict_set
from sessions.models import AuditLogEntry
from sessions.scoring import session_score_compute
from tests.dashboard.dashboard_factories import make_flag, make_session, session_with_evidence


@pytest.fixture
def flagged(tenant_a):
    session = make_session(
        tenant_a.institution, score=None, length=__import__("datetime").timedelta(minutes=20)
    )
    absence = make_flag(session, type="FACE_ABSENCE", at_seconds=60, seconds=120)
    tab = make_flag(session, type="TAB_NOT_FOCUS", at_seconds=300, seconds=30)
    automatic = session_score_compute(session=session).score
    session.trust_score = automatic
    session.save()
    return session, absence, tab, automatic


def test_dismissing_a_flag_gives_a_reviewed_score_and_keeps_the_automatic_one(tenant_a, flagged):
    session, absence, tab, automatic = flagged
    entry = flag_dismiss(flag=absence, actor=tenant_a.reviewer, reason="Candidate was adjusting the lamp")
    session.refresh_from_db()
    absence.refresh_from_db()
    assert absence.dismissed_at is not None and absence.dismissed_reason == "Candidate was adjusting the lamp"
    # docs/trust-score.md by hand, a 20-minute exam (x per exam hour: × 3600 / 1200):
    # FACE_ABSENCE 120 s: x = (0.05 + 0.2 × 2) × 3 = 1.35 → 40 × (1 − e^−1.35) = 29.63
    # TAB_NOT_FOCUS 30 s: x = (0.06 + 0.2 × 0.5) × 3 = 0.48 → 35 × (1 − e^−0.48) = 13.34
    assert session.trust_score == automatic == 57.0  # 100 − 42.97
    expected = 86.7  # the absence dismissed: 100 − 13.34
    assert session.reviewed_score == expected
    assert entry.action == "flag_dismissed" and entry.flag == absence and entry.actor == tenant_a.reviewer
    assert entry.details["reviewed_score_after"] == expected
    assert entry.institution == tenant_a.institution


def test_restoring_the_last_dismissed_flag_clears_the_reviewed_score(tenant_a, flagged):
    session, absence, tab, automatic = flagged
    flag_dismiss(flag=absence, actor=tenant_a.reviewer, reason="lamp")
    flag_restore(flag=absence, actor=tenant_a.admin)
    session.refresh_from_db()
    absence.refresh_from_db()
    assert absence.dismissed_at is None and absence.dismissed_reason == ""
    assert session.reviewed_score is None and session.trust_score == automatic
    actions = list(
        AuditLogEntry.objects.filter(session=session)
        .order_by("created_at", "pk")
        .values_list("action", flat=True)
    )
    assert actions == ["flag_dismissed", "flag_restored"]


def test_dismissing_needs_a_reason_and_happens_once(tenant_a, flagged):
    session, absence, *_ = flagged
    with pytest.raises(ReviewError):
        flag_dismiss(flag=absence, actor=tenant_a.reviewer, reason="   ")
    flag_dismiss(flag=absence, actor=tenant_a.reviewer, reason="lamp")
    with pytest.raises(ReviewError):
        flag_dismiss(flag=absence, actor=tenant_a.reviewer, reason="again")
    assert AuditLogEntry.objects.filter(session=session).count() == 1


def test_a_verdict_is_recorded_with_notes_and_audited(tenant_a, flagged):
    session, *_ = flagged
    session_verdict_set(
        session=session, actor=tenant_a.reviewer, verdict="suspicious", notes="  looked off  "
    )
    session_verdict_set(
        session=session, actor=tenant_a.admin, verdict="violation", notes="second person seen"
    )
    session.refresh_from_db()
    assert (session.verdict, session.verdict_notes) == ("violation", "second person seen")
    entries = list(AuditLogEntry.objects.filter(session=session).order_by("created_at", "pk"))
    assert [(e.details["previous"], e.details["verdict"]) for e in entries] == [
        ("", "suspicious"),
        ("suspicious", "violation"),
    ]
    assert entries[0].details["notes"] == "looked off"
    assert entries[1].actor_label == tenant_a.admin.email


def test_an_unknown_verdict_is_refused(tenant_a, flagged):
    with pytest.raises(ReviewError):
        session_verdict_set(session=flagged[0], actor=tenant_a.reviewer, verdict="guilty")


def test_audit_survives_the_reviewer_account(tenant_a, flagged):
    session, *_ = flagged
    session_verdict_set(session=session, actor=tenant_a.reviewer, verdict="cleared")
    email = tenant_a.reviewer.email
    tenant_a.reviewer.delete()
    entry = AuditLogEntry.objects.get(session=session)
    assert entry.actor is None and entry.actor_label == email


def test_verdict_form_posts_and_the_log_shows_on_the_session(login, tenant_a, flagged):
    session, *_ = flagged
    client = login(tenant_a.reviewer)
    url = reverse("dashboard:verdict", args=[session.public_id])
    response = client.post(url, {"verdict": "violation", "notes": "Phone visible"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Verdict saved: Violation." in page
    assert "recorded the verdict <strong>Violation</strong>" in page
    assert "Phone visible" in page


def test_verdict_form_errors_are_shown(login, tenant_a, flagged):
    session, *_ = flagged
    client = login(tenant_a.reviewer)
    response = client.post(reverse("dashboard:verdict", args=[session.public_id]), {"verdict": "nope"})
    assert response.status_code == 400
    session.refresh_from_db()
    assert session.verdict == ""


def test_htmx_dismiss_answers_with_the_updated_panels(login, tenant_a, flagged):
    session, absence, *_ = flagged
    client = login(tenant_a.reviewer)
    url = reverse("dashboard:flag-dismiss", args=[session.public_id, absence.public_id])
    response = client.post(url, {"reason": "lamp"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="score-reviewed"' in body and "Dismissed as a false positive" in body
    assert 'dismissed <span class="mono">FACE_ABSENCE</span>' in body


def test_dismiss_without_reason_changes_nothing(login, tenant_a, flagged):
    session, absence, *_ = flagged
    client = login(tenant_a.reviewer)
    response = client.post(
        reverse("dashboard:flag-dismiss", args=[session.public_id, absence.public_id]), {"reason": ""}
    )
    assert response.status_code == 400
    absence.refresh_from_db()
    assert absence.dismissed_at is None


def test_session_page_shows_replay_parts(login, tenant_a):
    session, absence, sound, frames = session_with_evidence(tenant_a.institution)
    page = (
        login(tenant_a.reviewer).get(reverse("dashboard:session", args=[session.public_id])).content.decode()
    )
    assert f'data-flag="{absence.public_id}"' in page  # a timeline marker
    assert reverse("dashboard:media", args=[sound.evidence.public_id]) in page  # the audio clip
    assert 'id="replay-data"' in page and str(frames[-1].public_id) in page
    assert "Trust score" in page and "Audit log" in page


def test_finalising_session_shows_progress_and_refreshes_when_done(login, tenant_a):
    session, *_ = session_with_evidence(tenant_a.institution, status="finalising")
    client = login(tenant_a.reviewer)
    page = client.get(reverse("dashboard:session", args=[session.public_id])).content.decode()
    assert "Final analysis running" in page and "<progress" in page
    progress = client.get(reverse("dashboard:session-progress", args=[session.public_id]))
    assert progress.status_code == 200 and b"Final analysis running" in progress.content
    session.status = "completed"
    session.save()
    done = client.get(reverse("dashboard:session-progress", args=[session.public_id]))
    assert done.status_code == 204 and done["HX-Refresh"] == "true"


@pytest.mark.parametrize("key", ["items", "keys", "values"])
def test_finding8_a_signal_payload_key_named_like_a_dict_method_does_not_break_the_replay(
    login, tenant_a, key
):
    from sessions.services import signal_record

    session, *_ = session_with_evidence(tenant_a.institution, status="active")
    result = signal_record(
        session_id=session.pk, seq=1, event="TAB_FOCUS_CHANGE", payload={"focused": False, key: 5}
    )
    assert result.stored
    response = login(tenant_a.reviewer).get(reverse("dashboard:session", args=[session.public_id]))
    assert response.status_code == 200
    assert f"{key}=5" in response.content.decode()
