"""Assessments, candidates, sessions, flags, events, reports, ending and usage over /api/v1/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from sessions.models import Assessment, Event, ProctoringSession
from tests.api.api_factories import (
    error_of,
    make_assessment,
    make_candidate,
    make_event,
    make_evidence,
    make_flag,
    make_session,
)

# --- assessments and candidates ---------------------------------------------------------------------


def test_assessment_create_list_update_archive(api_a, tenant_a):
    created = api_a.post(
        "/api/v1/assessments",
        {"externalId": "math-101", "title": "Maths", "durationSeconds": 3600},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["externalId"] == "math-101" and body["archived"] is False
    assessment_id = body["id"]
    assert Assessment.objects.get(public_id=assessment_id).institution == tenant_a.institution

    listed = api_a.get("/api/v1/assessments").json()
    assert [a["id"] for a in listed["results"]] == [assessment_id]

    updated = api_a.patch(f"/api/v1/assessments/{assessment_id}", {"title": "Maths I"}, format="json")
    assert updated.status_code == 200
    assert updated.json()["title"] == "Maths I"
    assert updated.json()["durationSeconds"] == 3600  # untouched by a partial update

    archived = api_a.post(f"/api/v1/assessments/{assessment_id}/archive")
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert api_a.get("/api/v1/assessments").json()["results"] == []
    assert len(api_a.get("/api/v1/assessments", {"includeArchived": "true"}).json()["results"]) == 1
    assert api_a.get(f"/api/v1/assessments/{assessment_id}").json()["archivedAt"] is not None


def test_duplicate_external_id_is_already_exists_with_the_existing_id(api_a, api_b):
    first = api_a.post("/api/v1/assessments", {"externalId": "dup"}, format="json").json()
    again = api_a.post("/api/v1/assessments", {"externalId": "dup"}, format="json")
    assert again.status_code == 409
    error = error_of(again)
    assert error["code"] == "ALREADY_EXISTS"
    assert error["details"] == {"field": "externalId", "id": first["id"]}
    # Another institution may use the same external id.
    assert api_b.post("/api/v1/assessments", {"externalId": "dup"}, format="json").status_code == 201


def test_candidate_create_list_filter_update(api_a):
    created = api_a.post(
        "/api/v1/candidates",
        {"externalId": "s-1", "email": "ada@alpha.edu", "firstName": "Ada", "lastName": "Lovelace"},
        format="json",
    )
    assert created.status_code == 201
    candidate_id = created.json()["id"]
    api_a.post("/api/v1/candidates", {"externalId": "s-2", "email": "bob@alpha.edu"}, format="json")
    found = api_a.get("/api/v1/candidates", {"email": "ADA@alpha.edu"}).json()["results"]
    assert [c["id"] for c in found] == [candidate_id]
    patched = api_a.patch(f"/api/v1/candidates/{candidate_id}", {"lastName": "King"}, format="json")
    assert patched.json()["lastName"] == "King" and patched.json()["firstName"] == "Ada"
    bad = api_a.patch(f"/api/v1/candidates/{candidate_id}", {"email": "nope", "imageUrl": "x"}, format="json")
    assert set(error_of(bad)["details"]["fields"]) == {"email", "imageUrl"}


# --- sessions -------------------------------------------------------------------------------------


def test_session_list_and_detail(api_a, tenant_a):
    session = make_session(tenant_a.institution, trust_score=91.0)
    make_flag(session)
    dismissed = make_flag(session, "TAB_NOT_FOCUS")
    dismissed.dismissed_at = timezone.now()
    dismissed.save()
    listed = api_a.get("/api/v1/sessions").json()
    assert [s["id"] for s in listed["results"]] == [str(session.public_id)]
    detail = api_a.get(f"/api/v1/sessions/{session.public_id}").json()
    assert detail["assessment"]["externalId"] == session.assessment.external_id
    assert detail["candidate"]["id"] == str(session.candidate.public_id)
    assert detail["riskBand"] == "low" and detail["trustScore"] == 91.0
    assert detail["flagCount"] == 1
    assert "institution" not in detail and "pk" not in detail


def test_session_filters(api_a, tenant_a):
    inst = tenant_a.institution
    exam = make_assessment(inst)
    ada = make_candidate(inst)
    now = timezone.now()
    low = make_session(
        inst, assessment=exam, candidate=ada, trust_score=95, started_at=now - timedelta(days=3)
    )
    review = make_session(inst, assessment=exam, trust_score=70, started_at=now - timedelta(days=2))
    high = make_session(
        inst, candidate=ada, trust_score=40, status="completed", started_at=now - timedelta(days=1)
    )
    unscored = make_session(inst)
    make_flag(high, "MULTIPLE_FACE")
    make_flag(review, "FACE_ABSENCE")

    def ids(**params):
        response = api_a.get("/api/v1/sessions", params)
        assert response.status_code == 200, response.json()
        return {s["id"] for s in response.json()["results"]}

    def as_ids(*sessions):
        return {str(s.public_id) for s in sessions}

    assert ids(assessment=str(exam.public_id)) == as_ids(low, review)
    assert ids(candidate=str(ada.public_id)) == as_ids(low, high)
    assert ids(status="completed") == as_ids(high)
    assert ids(riskBand="low") == as_ids(low)
    assert ids(riskBand="review") == as_ids(review)
    assert ids(riskBand="high") == as_ids(high)
    assert ids(flagType="MULTIPLE_FACE") == as_ids(high)
    assert ids(startedAfter=(now - timedelta(days=2, hours=1)).isoformat()) == as_ids(review, high, unscored)
    assert ids(startedBefore=(now - timedelta(days=1, hours=1)).isoformat()) == as_ids(low, review)
    assert ids(candidate=str(ada.public_id), riskBand="high") == as_ids(high)


def test_filtering_by_another_institutions_assessment_is_a_validation_error(api_a, tenant_b):
    foreign = make_assessment(tenant_b.institution)
    response = api_a.get("/api/v1/sessions", {"assessment": str(foreign.public_id)})
    assert response.status_code == 400
    assert set(error_of(response)["details"]["fields"]) == {"assessment"}


def test_pagination_is_stable_while_sessions_are_inserted(api_a, tenant_a):
    inst = tenant_a.institution
    base = timezone.now() - timedelta(hours=1)
    # Several share a start time: the public id breaks ties.
    originals = [make_session(inst, started_at=base + timedelta(seconds=i // 3)) for i in range(12)]
    seen: list[str] = []
    response = api_a.get("/api/v1/sessions", {"limit": 5}).json()
    seen += [s["id"] for s in response["results"]]
    # New sessions arrive between pages: newer than all, and tied with one already seen.
    make_session(inst)
    make_session(inst, started_at=base + timedelta(seconds=3))
    while response["nextCursor"]:
        assert response["next"].startswith("http://testserver/api/v1/sessions?")
        response = api_a.get("/api/v1/sessions", {"limit": 5, "cursor": response["nextCursor"]}).json()
        seen += [s["id"] for s in response["results"]]
        make_session(inst)
    assert len(seen) == len(set(seen)), "a session was returned twice"
    assert {str(s.public_id) for s in originals} <= set(seen), "a session was skipped"
    started = [ProctoringSession.objects.get(public_id=i).started_at for i in seen]
    assert started == sorted(started, reverse=True)


def test_next_url_keeps_the_filters(api_a, tenant_a):
    for _ in range(3):
        make_session(tenant_a.institution, status="completed")
    page = api_a.get("/api/v1/sessions", {"limit": 2, "status": "completed"}).json()
    assert "status=completed" in page["next"]
    rest = api_a.get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["nextCursor"] is None


@pytest.mark.parametrize("cursor", ["garbage", "eyJ4IjoxfQ", "WyJub3QtYS1kYXRlIiwieCJd"])
def test_a_forged_cursor_is_a_validation_error(api_a, cursor):
    response = api_a.get("/api/v1/sessions", {"cursor": cursor})
    assert response.status_code == 400
    assert set(error_of(response)["details"]["fields"]) == {"cursor"}


def test_flags_and_browser_events_in_order(api_a, tenant_a):
    session = make_session(tenant_a.institution)
    t0 = timezone.now() - timedelta(minutes=5)
    evidence = make_evidence(session)
    second = make_flag(session, "FACE_ABSENCE", started_at=t0 + timedelta(seconds=30), evidence=evidence)
    first = make_flag(session, "TAB_NOT_FOCUS", started_at=t0)
    make_event(session, "TAB_FOCUS_CHANGE", seq=1, started_at=t0, payload={"focused": False})
    make_event(
        session, "TAB_FOCUS_CHANGE", seq=2, started_at=t0 + timedelta(seconds=4), payload={"focused": True}
    )
    make_event(session, "END_PROCTORING", source=Event.Source.SERVER, started_at=t0 + timedelta(seconds=9))

    flags = api_a.get(f"/api/v1/sessions/{session.public_id}/flags").json()["results"]
    assert [f["id"] for f in flags] == [str(first.public_id), str(second.public_id)]
    assert flags[0]["mediaUrl"] is None
    assert flags[1]["mediaUrl"].startswith("http")

    events = api_a.get(f"/api/v1/sessions/{session.public_id}/events").json()["results"]
    assert [(e["type"], e["seq"], e["payload"]) for e in events] == [
        ("TAB_FOCUS_CHANGE", 1, {"focused": False}),
        ("TAB_FOCUS_CHANGE", 2, {"focused": True}),
    ]


def test_report_has_score_breakdown_verdict_and_working_short_lived_evidence_links(
    api_a, tenant_a, client, time_machine
):
    session = make_session(
        tenant_a.institution,
        status="completed",
        ended_at=timezone.now(),
        trust_score=55.0,
        score_final=True,
        reviewed_score=80.0,
        verdict="cleared",
        verdict_notes="Sibling walked in.",
        # As sessions.scoring.breakdown_json stores it.
        trust_breakdown={
            "score": 55.0,
            "band": "high",
            "types": {
                "MULTIPLE_FACE": {"count": 1, "seconds": 20, "deduction": 15.0},
                "FACE_ABSENCE": {"count": 3, "seconds": 60, "deduction": 30.0},
            },
        },
    )
    evidence = make_evidence(session, b"\xff\xd8\xff\xe0evidence-bytes")
    flag = make_flag(session, "MULTIPLE_FACE", evidence=evidence)
    make_flag(session, "TAB_NOT_FOCUS")

    report = api_a.get(f"/api/v1/sessions/{session.public_id}/report").json()
    assert report["trustScore"] == 55.0 and report["riskBand"] == "high" and report["scoreFinal"] is True
    assert [row["type"] for row in report["breakdown"]] == ["FACE_ABSENCE", "MULTIPLE_FACE"]
    assert sum(row["deduction"] for row in report["breakdown"]) == 100 - report["trustScore"]
    assert report["verdict"] == "cleared" and report["reviewedScore"] == 80.0
    assert report["verdictNotes"] == "Sibling walked in."
    assert [e["flagId"] for e in report["evidence"]] == [str(flag.public_id)]

    url = report["evidence"][0]["mediaUrl"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    fetched = client.get("/" + path)
    assert fetched.status_code == 200
    content = b"".join(fetched.streaming_content) if fetched.streaming else fetched.content
    assert content == b"\xff\xd8\xff\xe0evidence-bytes"
    time_machine.move_to(timezone.now() + timedelta(hours=1))
    assert client.get("/" + path).status_code == 404  # short-lived


def test_ending_a_session_from_the_server(api_a, tenant_a):
    session = make_session(tenant_a.institution)
    response = api_a.post(f"/api/v1/sessions/{session.public_id}/end")
    assert response.status_code == 200
    assert response.json()["status"] in {"finalising", "completed"}
    assert response.json()["endReason"] == "server"
    session.refresh_from_db()
    assert session.ended_at is not None and session.end_reason == "server"

    again = api_a.post(f"/api/v1/sessions/{session.public_id}/end")
    assert again.status_code == 409
    assert error_of(again)["code"] == "SESSION_ALREADY_ENDED"


# --- usage ----------------------------------------------------------------------------------------


def test_usage_counts_candidate_hours_per_day_split_at_midnight(api_a, tenant_a, tenant_b, time_machine):
    time_machine.move_to(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False)
    inst = tenant_a.institution
    # 23:00 → 01:00 across midnight: one hour on each day.
    make_session(
        inst,
        started_at=datetime(2026, 3, 8, 23, 0, tzinfo=UTC),
        ended_at=datetime(2026, 3, 9, 1, 0, tzinfo=UTC),
    )
    # 90 minutes on the 9th.
    make_session(
        inst,
        started_at=datetime(2026, 3, 9, 10, 0, tzinfo=UTC),
        ended_at=datetime(2026, 3, 9, 11, 30, tzinfo=UTC),
    )
    # Still running since 10:00 today: counts up to now (12:00).
    make_session(inst, started_at=datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    # Another institution's session never counts.
    make_session(
        tenant_b.institution,
        started_at=datetime(2026, 3, 9, 0, 0, tzinfo=UTC),
        ended_at=datetime(2026, 3, 9, 5, 0, tzinfo=UTC),
    )

    body = api_a.get("/api/v1/usage", {"from": "2026-03-08", "to": "2026-03-10"}).json()
    assert body["from"] == "2026-03-08" and body["to"] == "2026-03-10"
    assert body["days"] == [
        {"date": "2026-03-08", "candidateHours": 1.0, "sessionsStarted": 1},
        {"date": "2026-03-09", "candidateHours": 2.5, "sessionsStarted": 1},
        {"date": "2026-03-10", "candidateHours": 2.0, "sessionsStarted": 1},
    ]
    assert body["totalCandidateHours"] == 5.5

    default = api_a.get("/api/v1/usage").json()
    assert default["to"] == "2026-03-10" and len(default["days"]) == 30


def test_usage_range_is_validated(api_a):
    backwards = api_a.get("/api/v1/usage", {"from": "2026-03-10", "to": "2026-03-01"})
    assert set(error_of(backwards)["details"]["fields"]) == {"from"}
    too_long = api_a.get("/api/v1/usage", {"from": "2024-01-01", "to": "2026-01-01"})
    assert too_long.status_code == 400
