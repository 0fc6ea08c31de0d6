"""The sessions list: filters, search, sort, pagination, CSV export and a fixed number of queries."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse

from tests.dashboard.dashboard_factories import make_flag, make_session


@pytest.fixture
def sessions(tenant_a):
    inst = tenant_a.institution
    clean = make_session(inst, first="Clara", last="Clean", score=97.0, started_ago=timedelta(days=1))
    review = make_session(
        inst,
        first="Rita",
        last="Review",
        score=72.0,
        started_ago=timedelta(days=3),
        assessment="math",
        title="Maths",
    )
    high = make_session(
        inst, first="Hugo", last="High", email="hugo@exam.test", score=31.5, started_ago=timedelta(days=5)
    )
    running = make_session(
        inst, first="Ruth", last="Running", status="active", score=None, started_ago=timedelta(minutes=5)
    )
    make_flag(high, type="MULTIPLE_FACE")
    make_flag(high, type="MULTIPLE_FACE", at_seconds=200)
    dismissed = make_flag(review, type="MULTIPLE_FACE")
    dismissed.dismissed_at = dismissed.started_at
    dismissed.save()
    make_flag(review, type="TAB_NOT_FOCUS")
    return {"clean": clean, "review": review, "high": high, "running": running}


def names(response) -> list[str]:
    page = response.content.decode()
    order = []
    for s in response.context["page"].object_list:
        assert str(s.candidate) in page
        order.append(str(s.candidate))
    return order


def test_risk_band_filter(login, tenant_a, sessions):
    client = login(tenant_a.reviewer)
    assert names(client.get(reverse("dashboard:sessions"), {"band": "high"})) == ["Hugo High"]
    assert names(client.get(reverse("dashboard:sessions"), {"band": "review"})) == ["Rita Review"]
    assert names(client.get(reverse("dashboard:sessions"), {"band": "low"})) == ["Clara Clean"]
    assert names(client.get(reverse("dashboard:sessions"), {"band": "unscored"})) == ["Ruth Running"]


def test_verdict_filters(login, tenant_a, sessions):
    inst = tenant_a.institution
    make_session(inst, first="Vera", last="Violation", score=50.0, verdict="violation")
    make_session(inst, first="Cleo", last="Cleared", score=60.0, verdict="cleared")
    make_session(inst, first="Finn", last="Finalising", status="finalising", score=40.0)
    client = login(tenant_a.reviewer)

    def verdict(value):
        return set(names(client.get(reverse("dashboard:sessions"), {"verdict": value, "per_page": 100})))

    # waiting for review: completed, below 85 and no verdict (not the finalising one, not Clara's 97)
    assert verdict("pending") == {"Rita Review", "Hugo High"}
    assert verdict("none") == {"Clara Clean", "Rita Review", "Hugo High", "Ruth Running", "Finn Finalising"}
    assert verdict("violation") == {"Vera Violation"}
    assert verdict("cleared") == {"Cleo Cleared"}
    assert verdict("suspicious") == set()
    assert len(verdict("")) == 7


def test_status_assessment_and_flag_type_filters(login, tenant_a, sessions):
    client = login(tenant_a.reviewer)
    assert names(client.get(reverse("dashboard:sessions"), {"status": "active"})) == ["Ruth Running"]
    maths = str(sessions["review"].assessment.public_id)
    assert names(client.get(reverse("dashboard:sessions"), {"assessment": maths})) == ["Rita Review"]
    # A dismissed flag no longer counts for the flag-type filter.
    assert names(client.get(reverse("dashboard:sessions"), {"flag_type": "MULTIPLE_FACE"})) == ["Hugo High"]
    assert names(client.get(reverse("dashboard:sessions"), {"flag_type": "TAB_NOT_FOCUS"})) == ["Rita Review"]


def test_date_range_filter(login, tenant_a, sessions):
    client = login(tenant_a.reviewer)
    today = sessions["running"].started_at.date()
    response = client.get(
        reverse("dashboard:sessions"),
        {
            "date_from": (today - timedelta(days=4)).isoformat(),
            "date_to": (today - timedelta(days=2)).isoformat(),
        },
    )
    assert names(response) == ["Rita Review"]


def test_the_date_range_includes_its_first_and_last_day(login, tenant_a, sessions):
    client = login(tenant_a.reviewer)
    rita = sessions["review"].started_at.date().isoformat()  # 3 days ago
    hugo = sessions["high"].started_at.date().isoformat()  # 5 days ago

    def between(first, last):
        return set(names(client.get(reverse("dashboard:sessions"), {"date_from": first, "date_to": last})))

    assert between(rita, rita) == {"Rita Review"}
    assert between(hugo, rita) == {"Hugo High", "Rita Review"}


def test_search_by_name_email_candidate_id_and_session_id(login, tenant_a, sessions):
    client = login(tenant_a.reviewer)
    assert names(client.get(reverse("dashboard:sessions"), {"q": "hugo high"})) == ["Hugo High"]
    assert names(client.get(reverse("dashboard:sessions"), {"q": "hugo@exam"})) == ["Hugo High"]
    cand = sessions["clean"].candidate.external_id
    assert names(client.get(reverse("dashboard:sessions"), {"q": cand})) == ["Clara Clean"]
    sid = str(sessions["review"].public_id)
    assert names(client.get(reverse("dashboard:sessions"), {"q": sid})) == ["Rita Review"]


def test_sort_by_trust_score_and_date(login, tenant_a, sessions):
    client = login(tenant_a.reviewer)
    assert names(client.get(reverse("dashboard:sessions"), {"sort": "trust_score"})) == [
        "Hugo High",
        "Rita Review",
        "Clara Clean",
        "Ruth Running",  # not scored yet: last
    ]
    assert names(client.get(reverse("dashboard:sessions"), {"sort": "-trust_score"}))[0] == "Clara Clean"
    assert names(client.get(reverse("dashboard:sessions")))[0] == "Ruth Running"
    assert names(client.get(reverse("dashboard:sessions"), {"sort": "started_at"}))[0] == "Hugo High"


def test_flag_counts_leave_out_dismissed_flags(login, tenant_a, sessions):
    response = login(tenant_a.reviewer).get(reverse("dashboard:sessions"))
    counts = {str(s.candidate): s.flag_count for s in response.context["page"].object_list}
    assert counts == {"Hugo High": 2, "Rita Review": 1, "Clara Clean": 0, "Ruth Running": 0}


def test_pagination(login, tenant_a, sessions):
    for i in range(30):
        make_session(
            tenant_a.institution, first=f"Extra{i:02d}", last="Person", started_ago=timedelta(hours=10 + i)
        )
    client = login(tenant_a.reviewer)
    first = client.get(reverse("dashboard:sessions"), {"per_page": 25})
    assert len(first.context["page"].object_list) == 25 and first.context["page"].has_next()
    assert "page=2" in first.content.decode()
    second = client.get(reverse("dashboard:sessions"), {"per_page": 25, "page": 2})
    assert len(second.context["page"].object_list) == 9
    assert not set(names(first)) & set(names(second))


def test_empty_states(login, tenant_a, tenant_b, sessions):
    assert b"No sessions yet" in login(tenant_b.reviewer).get(reverse("dashboard:sessions")).content
    response = login(tenant_a.reviewer).get(reverse("dashboard:sessions"), {"q": "nobody-like-this"})
    assert b"No session matches these filters" in response.content


def test_csv_export_streams_what_is_filtered(login, tenant_a, sessions):
    response = login(tenant_a.reviewer).get(reverse("dashboard:sessions-csv"), {"band": "high"})
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["candidate_name"] for r in rows] == ["Hugo High"]
    assert rows[0]["session_id"] == str(sessions["high"].public_id)
    assert rows[0]["risk"] == "high" and rows[0]["flags"] == "2"


def test_csv_export_defuses_spreadsheet_formulas(login, tenant_a):
    make_session(tenant_a.institution, first='=HYPERLINK("x")', last="Evil")
    response = login(tenant_a.reviewer).get(reverse("dashboard:sessions-csv"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["candidate_name"].startswith("'=")


@pytest.mark.parametrize("per_page", [25, 100])
def test_sessions_list_is_a_fixed_number_of_queries(login, tenant_a, django_assert_max_num_queries, per_page):
    for i in range(120):
        session = make_session(tenant_a.institution, first=f"P{i}", last="Q", assessment=f"exam-{i % 7}")
        make_flag(session, type="FACE_ABSENCE")
        make_flag(session, type="TAB_NOT_FOCUS")
    client = login(tenant_a.reviewer)
    # session + user + memberships + assessments (filter) + count + page + flag types
    with django_assert_max_num_queries(8):
        response = client.get(reverse("dashboard:sessions"), {"per_page": per_page, "sort": "trust_score"})
    assert len(response.context["page"].object_list) == per_page


def test_overview_figures(login, tenant_a, sessions):
    response = login(tenant_a.admin).get(reverse("dashboard:overview"))
    overview = response.context["overview"]
    assert overview["totals"]["sessions"] == 4
    assert overview["pending_count"] == 2  # Rita and Hugo: completed, below 85, no verdict
    assert overview["chart"]["flags"] == {"labels": ["MULTIPLE_FACE", "TAB_NOT_FOCUS"], "counts": [2, 1]}
    assert sum(overview["chart"]["distribution"]["counts"]) == 3
    assert overview["candidate_hours"] == pytest.approx(0.5, abs=0.02)  # three ended sessions of 10 minutes


def test_an_unknown_sort_lists_the_newest_first(tenant_a):
    from sessions.dashboard.selectors import SessionFilters, session_list

    old = make_session(tenant_a.institution, first="Old", started_ago=timedelta(hours=3))
    new = make_session(tenant_a.institution, first="New", started_ago=timedelta(hours=1))
    mid = make_session(tenant_a.institution, first="Mid", started_ago=timedelta(hours=2))
    for sort in ("no-such-sort", "-started_at"):
        listed = session_list(
            institution=tenant_a.institution, filters=SessionFilters(sort=sort), courses=None
        )
        assert [s.pk for s in listed] == [new.pk, mid.pk, old.pk]
