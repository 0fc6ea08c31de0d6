"""The overview's figures, every one worked out by hand from the rows below (never by calling
the selector twice): the 30-day window and its first day, sessions and candidate hours per day,
the score distribution's buckets and their edges, flags by type and their order, the totals and
the reviews waiting (all of them, and the six lowest)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from sessions.dashboard import selectors
from tests.dashboard.dashboard_factories import make_flag, make_session

pytestmark = pytest.mark.django_db


def _at(days_ago: int, hour: int) -> timedelta:
    """How long ago ``hour``:00 (local time) was, ``days_ago`` days before today."""
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.now() - timezone.make_aware(datetime.combine(day, time(hour)))


@pytest.fixture
def rows(tenant_a):
    inst = tenant_a.institution

    def done(name: str, days_ago: int, hour: int, minutes: int, score: float, verdict: str = ""):
        return make_session(
            inst,
            first=name,
            last="Row",
            score=score,
            verdict=verdict,
            started_ago=_at(days_ago, hour),
            length=timedelta(minutes=minutes),
        )

    made = {
        "edge": done("Edge", 29, 12, 30, 100.0),  # the window's first day
        "out": done("Out", 30, 12, 60, 10.0),  # the day before it
        "a": done("Ada", 2, 12, 15, 20.0),
        "b": done("Bea", 2, 13, 45, 59.9, verdict="violation"),
        "c": done("Cy", 1, 12, 20, 85.0),
        "e": done("Eve", 1, 13, 6, 84.9),
        "p30": done("Pia", 3, 12, 10, 30.0),
        "p40": done("Pim", 3, 13, 10, 40.0),
        "p50": done("Pat", 4, 12, 10, 50.0),
        "p70": done("Pol", 4, 13, 10, 70.0),
        "cleared": done("Cleo", 5, 12, 12, 60.0, verdict="cleared"),
        "running": make_session(
            inst, first="Run", last="Row", status="active", score=None, started_ago=timedelta(seconds=1)
        ),
    }
    make_flag(made["a"], type="MULTIPLE_FACE", at_seconds=10)
    make_flag(made["a"], type="MULTIPLE_FACE", at_seconds=50)
    make_flag(made["b"], type="LOOKING_AWAY", at_seconds=10)
    make_flag(made["b"], type="LOOKING_AWAY", at_seconds=50)
    make_flag(made["b"], type="TAB_NOT_FOCUS", at_seconds=90)
    make_flag(made["edge"], type="TAB_NOT_FOCUS")
    make_flag(made["e"], type="TAB_NOT_FOCUS")
    make_flag(made["c"], type="PERIODIC_SNAPSHOT")  # a random photo: no violation
    dismissed = make_flag(made["c"], type="FACE_ABSENCE")
    dismissed.dismissed_at = timezone.now()
    dismissed.save()
    make_flag(made["out"], type="COPY_PASTE")  # its session started before the window
    return made


def test_the_window_is_the_last_30_days_with_today(tenant_a, rows):
    overview = selectors.institution_overview(institution=tenant_a.institution, courses=None)
    today = timezone.localdate()
    assert overview["days"] == 30 and overview["since"] == today - timedelta(days=29)
    days = overview["chart"]["days"]
    assert len(days) == 30
    assert (days[0], days[-1]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    # Edge's day first; Out's day (30 days ago) is left out.
    expected = [1] + [0] * 23 + [1, 2, 2, 2, 2, 1]  # 5 days ago: Cleo; 4: Pat, Pol; 3; 2; 1; today: Run
    assert overview["chart"]["sessions"] == expected


def test_candidate_hours_per_day_and_in_all(tenant_a, rows):
    overview = selectors.institution_overview(institution=tenant_a.institution, courses=None)
    hours = overview["chart"]["hours"]
    # 29 days ago 30 min; 5: 12 min; 4: 10 + 10; 3: 10 + 10; 2: 15 + 45; 1: 20 + 6; today: running
    assert hours == [0.5] + [0.0] * 23 + [0.2, 0.33, 0.33, 1.0, 0.43, 0.0]
    assert overview["candidate_hours"] == 2.8  # 0.5 + 0.2 + 0.33 + 0.33 + 1.0 + 0.43 = 2.79


def test_the_score_distribution_puts_each_edge_in_the_bucket_it_starts(tenant_a, rows):
    distribution = selectors.institution_overview(institution=tenant_a.institution, courses=None)["chart"][
        "distribution"
    ]
    assert distribution["labels"] == [f"{lo}–{lo + 10}" for lo in range(0, 100, 10)]
    assert distribution["labels"][0] == "0–10" and distribution["labels"][-1] == "90–100"
    # 20 → 20–30; 30; 40; 50 and 59.9 → 50–60; 60; 70; 84.9 and 85 → 80–90; 100 → 90–100.
    # Out's 10 is before the window, Run has no score.
    assert distribution["counts"] == [0, 0, 1, 1, 1, 2, 1, 1, 2, 1]
    assert distribution["bands"] == ["high"] * 6 + ["review"] * 3 + ["low"]


def test_flags_by_type_most_first_then_by_name(tenant_a, rows):
    overview = selectors.institution_overview(institution=tenant_a.institution, courses=None)
    # Dismissed, random photos and the flags of a session before the window are not counted.
    assert overview["chart"]["flags"] == {
        "labels": ["TAB_NOT_FOCUS", "LOOKING_AWAY", "MULTIPLE_FACE"],
        "counts": [3, 2, 2],
    }
    assert overview["flags_total"] == 7


def test_totals_of_the_window(tenant_a, rows):
    overview = selectors.institution_overview(institution=tenant_a.institution, courses=None)
    # 11 sessions since 29 days ago; Run is running; Bea and Cleo have a verdict; below 60:
    # Ada 20, Pia 30, Pim 40, Pat 50, Bea 59.9 (Cleo's 60 is not)
    assert overview["totals"] == {"sessions": 11, "active": 1, "reviewed": 2, "high": 5}


def test_reviews_waiting_are_every_finished_unreviewed_session_below_85_the_lowest_six_shown(tenant_a, rows):
    overview = selectors.institution_overview(institution=tenant_a.institution, courses=None)
    # Out (10, older than the window), Ada 20, Pia 30, Pim 40, Pat 50, Pol 70, Eve 84.9; not Cy's 85,
    # not Bea (a verdict), not Run (running)
    assert overview["pending_count"] == 7
    assert [s.candidate.first_name for s in overview["pending"]] == ["Out", "Ada", "Pia", "Pim", "Pat", "Pol"]


def test_a_shorter_window_starts_later(tenant_a, rows):
    overview = selectors.institution_overview(institution=tenant_a.institution, days=3, courses=None)
    today = timezone.localdate()
    assert overview["chart"]["days"] == [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    assert overview["chart"]["sessions"] == [2, 2, 1]
    assert overview["totals"] == {"sessions": 5, "active": 1, "reviewed": 1, "high": 2}
    assert overview["candidate_hours"] == 1.4  # 1.0 + 0.43


def test_a_days_hours_are_its_seconds_over_3600_to_two_places(tenant_a):
    # 19 min 30 s = 1170 s = 0.325 h → 0.33 (with 3601 s to the hour it would be 0.3249 → 0.32)
    make_session(tenant_a.institution, started_ago=_at(1, 12), length=timedelta(minutes=19, seconds=30))
    overview = selectors.institution_overview(institution=tenant_a.institution, courses=None)
    assert overview["chart"]["hours"][-2:] == [0.33, 0.0]
    assert overview["candidate_hours"] == 0.3


def test_types_with_as_many_flags_come_by_name(tenant_a):
    session = make_session(tenant_a.institution, started_ago=_at(1, 12))
    tied = [
        "SOUND_DETECTED",
        "FACE_ABSENCE",
        "EXIT_FULLSCREEN",
        "COPY_PASTE",
        "CAMERA_BLOCKED",
        "AUX_DISCONNECTED",
    ]
    for n, type_ in enumerate(tied):
        make_flag(session, type=type_, at_seconds=10 + n)
    flags = selectors.institution_overview(institution=tenant_a.institution, courses=None)["chart"]["flags"]
    assert flags == {"labels": sorted(tied), "counts": [1] * 6}


def test_ties_come_by_name_whatever_order_the_counts_are_sorted_from(tenant_a):
    # Twelve types, every other one with a second flag: PostgreSQL's sort is not stable, so
    # ordering by the count alone returns each tie in an order of its own, not by name.
    session = make_session(tenant_a.institution, started_ago=_at(1, 12))
    types = [f"TYPE_{letter}" for letter in "ABCDEFGHIJKL"]
    for n, type_ in enumerate(types):
        make_flag(session, type=type_, at_seconds=10 + n)
        if n % 2:
            make_flag(session, type=type_, at_seconds=100 + n)
    flags = selectors.institution_overview(institution=tenant_a.institution, courses=None)["chart"]["flags"]
    assert flags == {"labels": types[1::2] + types[0::2], "counts": [2] * 6 + [1] * 6}


def test_reviews_waiting_at_the_same_score_come_oldest_first_with_their_names_in_the_same_query(
    tenant_a, django_assert_num_queries
):
    for name, days_ago in (("Newer", 1), ("Oldest", 3), ("Older", 2)):
        make_session(tenant_a.institution, first=name, score=50.0, started_ago=_at(days_ago, 12))
    overview = selectors.institution_overview(institution=tenant_a.institution, courses=None)
    with django_assert_num_queries(0):
        shown = [(s.candidate.first_name, s.assessment.title) for s in overview["pending"]]
    assert shown == [("Oldest", "Biology"), ("Older", "Biology"), ("Newer", "Biology")]
