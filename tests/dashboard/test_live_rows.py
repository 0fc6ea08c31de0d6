"""What each row of the live page carries (sessions.dashboard.selectors.live_sessions): its latest
frame, last activity and connection, time left, band and latest flags, and the order of the rows.
Every case has a row that a looser query would pick instead: a later audio chunk, a frame with a
higher seq but an older time, a not-a-violation flag, a sixth flag."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.dashboard.selectors import live_sessions
from sessions.models import ProctoringSession
from tests.dashboard.dashboard_factories import make_flag, make_media, make_session

pytestmark = pytest.mark.django_db


def _running(institution, **kwargs):
    return make_session(institution, status="active", score=None, **kwargs)


def _row(institution, session):
    (row,) = [s for s in live_sessions(institution=institution, courses=None) if s.pk == session.pk]
    return row


def test_the_latest_frame_is_the_newest_frame_or_snapshot_of_that_session(tenant_a):
    a = tenant_a.institution
    session = _running(a, started_ago=timedelta(minutes=5))
    make_media(session, kind="frame", seq=1, at_seconds=10)
    make_media(session, kind="frame", seq=9, at_seconds=20)  # the highest seq, not the newest
    snapshot = make_media(session, kind="snapshot", seq=2, at_seconds=30)
    make_media(session, kind="screen", seq=50, at_seconds=40)  # newer, but no camera frame
    other = _running(a, started_ago=timedelta(minutes=4))
    make_media(other, kind="frame", seq=1, at_seconds=200)  # another session's, newer still
    row = _row(a, session)
    assert row.latest_frame_id == snapshot.public_id
    assert row.latest_frame_at == snapshot.captured_at
    assert _row(a, other).latest_frame_id != snapshot.public_id


def test_of_two_frames_captured_at_the_same_instant_the_higher_seq_is_the_latest(tenant_a):
    a = tenant_a.institution
    session = _running(a)
    make_media(session, kind="frame", seq=3, at_seconds=20)
    later = make_media(session, kind="frame", seq=4, at_seconds=20)
    assert _row(a, session).latest_frame_id == later.public_id


def test_a_session_without_frames_has_none(tenant_a):
    a = tenant_a.institution
    session = _running(a)
    make_media(session, kind="audio", seq=1, at_seconds=5)
    row = _row(a, session)
    assert (row.latest_frame_id, row.latest_frame_at) == (None, None)


def test_last_activity_is_the_later_of_heartbeat_and_frame_and_sets_the_connection(tenant_a):
    a = tenant_a.institution
    now = timezone.now()
    cases = {}
    # heartbeat only, 5 s ago: online
    s = _running(a)
    ProctoringSession.objects.filter(pk=s.pk).update(last_seen_at=now - timedelta(seconds=5))
    cases["heartbeat"] = (s, now - timedelta(seconds=5), "online")
    # a frame only, 40 s ago: stalled (over 20 s, under 60 s)
    s = _running(a, started_ago=timedelta(minutes=10))
    frame = make_media(s, kind="frame", seq=1, at_seconds=560)
    cases["frame"] = (s, frame.captured_at, "stalled")
    # an old heartbeat but a frame 5 s ago: the frame counts
    s = _running(a, started_ago=timedelta(minutes=10))
    ProctoringSession.objects.filter(pk=s.pk).update(last_seen_at=now - timedelta(minutes=5))
    frame = make_media(s, kind="frame", seq=1, at_seconds=595)
    cases["frame newer"] = (s, frame.captured_at, "online")
    # a frame 2 minutes ago and a newer heartbeat 30 s ago: the heartbeat counts
    s = _running(a, started_ago=timedelta(minutes=10))
    make_media(s, kind="frame", seq=1, at_seconds=480)
    ProctoringSession.objects.filter(pk=s.pk).update(last_seen_at=now - timedelta(seconds=30))
    cases["heartbeat newer"] = (s, now - timedelta(seconds=30), "stalled")
    # nothing at all: offline
    s = _running(a)
    cases["nothing"] = (s, None, "offline")
    for name, (session, activity, connection) in cases.items():
        row = _row(a, session)
        if activity is None:
            assert row.last_activity is None, name
        else:
            assert abs(row.last_activity - activity) < timedelta(seconds=1), name
        assert row.connection == connection, name


def test_seconds_left_count_down_to_the_deadline_and_stop_at_zero(tenant_a):
    a = tenant_a.institution
    now = timezone.now()
    ahead, passed, none = _running(a), _running(a), _running(a)
    ProctoringSession.objects.filter(pk=ahead.pk).update(deadline_at=now + timedelta(minutes=10))
    ProctoringSession.objects.filter(pk=passed.pk).update(deadline_at=now - timedelta(minutes=1))
    ProctoringSession.objects.filter(pk=none.pk).update(deadline_at=None)
    assert 540 <= _row(a, ahead).seconds_left <= 600
    assert _row(a, passed).seconds_left == 0
    assert _row(a, none).seconds_left is None


def test_each_row_has_the_band_of_its_score(tenant_a):
    a = tenant_a.institution
    unscored, high, review = _running(a), _running(a), _running(a)
    ProctoringSession.objects.filter(pk=high.pk).update(trust_score=40.0)
    ProctoringSession.objects.filter(pk=review.pk).update(trust_score=70.0)
    assert [_row(a, s).band for s in (unscored, high, review)] == ["unscored", "high", "review"]


def test_rows_come_by_deadline_then_by_start(tenant_a):
    a = tenant_a.institution
    now = timezone.now()
    # created in the wrong order on purpose
    late_deadline = _running(a, started_ago=timedelta(minutes=30))
    same_later_start = _running(a, started_ago=timedelta(minutes=5))
    same_earlier_start = _running(a, started_ago=timedelta(minutes=10))
    soon = _running(a, started_ago=timedelta(minutes=1))
    deadlines = {
        late_deadline: now + timedelta(hours=1),
        same_later_start: now + timedelta(minutes=30),
        same_earlier_start: now + timedelta(minutes=30),
        soon: now + timedelta(minutes=5),
    }
    for session, deadline in deadlines.items():
        ProctoringSession.objects.filter(pk=session.pk).update(deadline_at=deadline)
    order = [s.pk for s in live_sessions(institution=a, courses=None)]
    assert order == [soon.pk, same_earlier_start.pk, same_later_start.pk, late_deadline.pk]


def test_rows_with_one_deadline_come_earliest_start_first_whatever_order_they_were_stored_in(tenant_a):
    # Six candidates with the same deadline, stored in an order that is neither their start order
    # nor its reverse: only the start time can put them in order (a tie left to the database
    # comes back in whatever order it keeps them).
    a = tenant_a.institution
    deadline = timezone.now() + timedelta(minutes=45)
    minutes_ago = [5, 20, 10, 30, 15, 25]
    sessions = {m: _running(a, started_ago=timedelta(minutes=m)) for m in minutes_ago}
    ProctoringSession.objects.filter(pk__in=[s.pk for s in sessions.values()]).update(deadline_at=deadline)
    order = [s.pk for s in live_sessions(institution=a, courses=None)]
    assert order == [sessions[m].pk for m in sorted(minutes_ago, reverse=True)]


def test_a_row_shows_its_five_newest_violations_newest_first(tenant_a):
    a = tenant_a.institution
    session = _running(a, started_ago=timedelta(minutes=10))
    # created out of time order, so that the newest-first order is not the creation order
    flags = {at: make_flag(session, type="TAB_NOT_FOCUS", at_seconds=at) for at in (50, 10, 60, 30, 20, 40)}
    tie = make_flag(session, type="COPY_PASTE", at_seconds=60)  # same start as flags[60], created later
    make_flag(session, type="PERIODIC_SNAPSHOT", at_seconds=90)  # newest, but no violation
    other = _running(a)
    make_flag(other, type="MULTIPLE_FACE", at_seconds=500)
    row = _row(a, session)
    assert [f.pk for f in row.recent_flags] == [
        tie.pk,
        flags[60].pk,
        flags[50].pk,
        flags[40].pk,
        flags[30].pk,
    ]


@pytest.mark.parametrize("rows", [1, 4])
def test_the_rows_and_all_they_show_take_two_queries_whatever_their_number(
    tenant_a, django_assert_num_queries, rows
):
    """The sessions with their assessment, candidate, counts and newest frame in one query, the
    flags of all of them in a second: nothing more per row."""
    for n in range(rows):
        session = _running(tenant_a.institution, first=f"Row{n}")
        make_media(session, kind="frame", seq=1, at_seconds=5)
        make_flag(session, type="MULTIPLE_FACE")
    with django_assert_num_queries(2):
        shown = [
            (s.assessment.title, s.candidate.first_name, s.flag_count, s.latest_frame_id, len(s.recent_flags))
            for s in live_sessions(institution=tenant_a.institution, courses=None)
        ]
    assert [(title, flags, frames) for title, _, flags, _, frames in shown] == [("Biology", 1, 1)] * rows
    assert all(frame is not None for *_, frame, _ in shown)


def test_violations_that_start_at_once_come_last_recorded_first(tenant_a):
    # Seven at the same second: the five shown are the last five recorded, the last first (the
    # start alone leaves a tie in whatever order the database returns it).
    a = tenant_a.institution
    session = _running(a, started_ago=timedelta(minutes=10))
    flags = [make_flag(session, type="TAB_NOT_FOCUS", at_seconds=30) for _ in range(7)]
    row = _row(a, session)
    assert [f.pk for f in row.recent_flags] == [f.pk for f in reversed(flags[2:])]
