"""Every dashboard read, with another institution's rows that *would* show without the
institution filter: a running foreign session for the live page, foreign sessions, flags and
pending reviews for the overview, foreign matches for list filters and search.

Each test first shows that the foreign rows qualify (their own institution sees them), so a
missing filter cannot hide behind rows that the page would leave out anyway."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from sessions.dashboard import selectors
from sessions.dashboard.selectors import SessionFilters
from tests.dashboard.dashboard_factories import make_flag, make_media, make_session


@pytest.fixture
def rows(tenant_a, tenant_b):
    """A: one running and one finished session. B: the same and more, all inside the windows."""
    a, b = tenant_a.institution, tenant_b.institution
    a_running = make_session(
        a, first="Ann", last="Alpha", status="active", score=None, started_ago=timedelta(minutes=3)
    )
    a_done = make_session(a, first="Abe", last="Alpha", score=91.0, started_ago=timedelta(hours=2))
    make_flag(a_done, type="TAB_NOT_FOCUS")
    b_running = make_session(
        b,
        first="Bob",
        last="Beta",
        assessment="bio-101",
        status="active",
        score=55.0,
        started_ago=timedelta(minutes=2),
    )
    make_media(b_running, kind="frame", seq=1, at_seconds=60)
    make_flag(b_running, type="MULTIPLE_FACE", at_seconds=30)
    b_pending = make_session(b, first="Bea", last="Beta", score=40.0, started_ago=timedelta(hours=1))
    make_flag(b_pending, type="FACE_MISMATCH")
    make_flag(b_pending, type="COPY_PASTE", at_seconds=90)
    b_reviewed = make_session(
        b, first="Ben", last="Beta", score=70.0, verdict="violation", started_ago=timedelta(days=2)
    )
    return {
        "a_running": a_running,
        "a_done": a_done,
        "b_running": b_running,
        "b_pending": b_pending,
        "b_reviewed": b_reviewed,
    }


def _ids(sessions) -> set:
    return {s.public_id for s in sessions}


# --- live -----------------------------------------------------------------------------------------


def test_live_sessions_leave_out_a_running_foreign_session(tenant_a, tenant_b, rows):
    assert _ids(selectors.live_sessions(institution=tenant_b.institution, courses=None)) == {
        rows["b_running"].public_id
    }
    assert _ids(selectors.live_sessions(institution=tenant_a.institution, courses=None)) == {
        rows["a_running"].public_id
    }


def test_live_page_shows_no_foreign_session_frame_or_flag(login, tenant_a, tenant_b, rows):
    foreign = login(tenant_b.reviewer).get(reverse("dashboard:live"))
    assert "Bob" in foreign.content.decode() and foreign.context["feed"]
    page = login(tenant_a.reviewer).get(reverse("dashboard:live"))
    html = page.content.decode()
    assert [s.public_id for s in page.context["sessions"]] == [rows["a_running"].public_id]
    assert page.context["feed"] == []
    assert "Bob" not in html and str(rows["b_running"].public_id) not in html
    frame = rows["b_running"].media.get(kind="frame")
    assert str(frame.public_id) not in html


# --- overview -------------------------------------------------------------------------------------


def test_overview_counts_only_the_institutions_sessions_flags_and_reviews(tenant_a, tenant_b, rows):
    foreign = selectors.institution_overview(institution=tenant_b.institution, courses=None)
    assert foreign["totals"] == {"sessions": 3, "active": 1, "reviewed": 1, "high": 2}
    assert foreign["pending_count"] == 1 and foreign["flags_total"] == 3
    assert sum(foreign["chart"]["sessions"]) == 3

    own = selectors.institution_overview(institution=tenant_a.institution, courses=None)
    assert own["totals"] == {"sessions": 2, "active": 1, "reviewed": 0, "high": 0}
    assert sum(own["chart"]["sessions"]) == 2
    assert own["chart"]["flags"] == {"labels": ["TAB_NOT_FOCUS"], "counts": [1]}
    assert own["flags_total"] == 1
    assert own["pending_count"] == 0 and own["pending"] == []
    # Only A's finished session (91, 10 minutes) is in the score distribution and the hours.
    assert own["chart"]["distribution"]["counts"] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert own["candidate_hours"] == 0.2  # 10 minutes, to one decimal; with B's 20 it would be 0.5


def test_overview_page_names_no_foreign_candidate(login, tenant_a, tenant_b, rows):
    assert "Bea" in login(tenant_b.admin).get(reverse("dashboard:overview")).content.decode()
    html = login(tenant_a.admin).get(reverse("dashboard:overview")).content.decode()
    assert "Bea" not in html and "Bob" not in html and "FACE_MISMATCH" not in html


# --- lists, filters, one session --------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        SessionFilters(),
        SessionFilters(status="active"),
        SessionFilters(flag_type="MULTIPLE_FACE"),
        SessionFilters(band="high"),
        SessionFilters(verdict="violation"),
        SessionFilters(q="Beta"),
    ],
    ids=["all", "status", "flag-type", "band", "verdict", "search"],
)
def test_session_list_filters_never_reach_foreign_rows(tenant_a, tenant_b, rows, filters):
    assert selectors.session_list(institution=tenant_b.institution, filters=filters, courses=None).exists()
    own = _ids(selectors.session_list(institution=tenant_a.institution, filters=filters, courses=None))
    assert own <= {rows["a_running"].public_id, rows["a_done"].public_id}


def test_searching_a_foreign_session_id_finds_nothing(tenant_a, tenant_b, rows):
    query = SessionFilters(q=str(rows["b_pending"].public_id))
    assert selectors.session_list(institution=tenant_b.institution, filters=query, courses=None).count() == 1
    assert not selectors.session_list(institution=tenant_a.institution, filters=query, courses=None).exists()


def test_one_session_its_flags_and_media_are_not_found_from_another_institution(tenant_a, tenant_b, rows):
    from django.http import Http404

    foreign = rows["b_running"]
    flag = foreign.flags.get()
    chunk = foreign.media.get(kind="frame")
    assert (
        selectors.session_get(institution=tenant_b.institution, public_id=foreign.public_id, courses=None)
        == foreign
    )
    assert (
        selectors.media_get(institution=tenant_b.institution, public_id=chunk.public_id, courses=None)
        == chunk
    )
    with pytest.raises(Http404):
        selectors.session_get(institution=tenant_a.institution, public_id=foreign.public_id, courses=None)
    with pytest.raises(Http404):
        selectors.media_get(institution=tenant_a.institution, public_id=chunk.public_id, courses=None)
    with pytest.raises(Http404):
        selectors.flag_get(session=rows["a_running"], public_id=flag.public_id)


def test_a_flag_is_found_through_its_own_session_only(tenant_a, rows):
    from django.http import Http404

    own = rows["a_done"].flags.get()
    assert selectors.flag_get(session=rows["a_done"], public_id=own.public_id) == own
    with pytest.raises(Http404):  # the same institution's other session
        selectors.flag_get(session=rows["a_running"], public_id=own.public_id)


def test_assessment_filter_lists_only_own_assessments(tenant_a, tenant_b, rows):
    from sessions.models import Assessment

    Assessment.objects.create(institution=tenant_b.institution, external_id="chem-9", title="Chemistry")
    assert (
        "Chemistry"
        in dict(selectors.assessments_for(institution=tenant_b.institution, courses=None)).values()
    )
    assert (
        "Chemistry"
        not in dict(selectors.assessments_for(institution=tenant_a.institution, courses=None)).values()
    )


def test_dashboard_context_offers_only_the_users_institutions(tenant_a, tenant_b):
    context = selectors.dashboard_context(user=tenant_a.reviewer, chosen=str(tenant_b.institution.public_id))
    assert context.institution == tenant_a.institution
    assert context.institutions == (tenant_a.institution,)


def test_a_flag_comes_with_its_session_in_one_query(tenant_a, rows, django_assert_num_queries):
    own = rows["a_done"].flags.get()
    with django_assert_num_queries(1):
        found = selectors.flag_get(session=rows["a_done"], public_id=own.public_id)
        assert found.session.public_id == rows["a_done"].public_id


def test_a_session_comes_with_its_assessment_candidate_and_institution_in_one_query(
    tenant_a, rows, django_assert_num_queries
):
    own = rows["a_done"]
    with django_assert_num_queries(1):
        found = selectors.session_get(institution=tenant_a.institution, public_id=own.public_id, courses=None)
        shown = (found.assessment.external_id, found.candidate.first_name, found.institution.name)
    assert shown == ("bio-101", "Abe", tenant_a.institution.name)
