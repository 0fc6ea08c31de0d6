"""What an analysis run reads of a session's chunks, and how: only the chunks after each
kind's cursor and those behind it not analysed yet, each found as a range of the (session,
kind, seq) index, so a run an hour into an exam reads no more rows than one a minute in."""

from __future__ import annotations

import json

from django.db import connection, transaction
from django.utils import timezone

from sessions.analysis_pipeline import _unfolded, _unfolded_params, _unfolded_sql
from sessions.config import parse_eye
from sessions.models import MediaChunk
from sessions.services import session_start


def _session(tenant):
    request = parse_eye(
        {
            "apiKey": tenant.publishable_key,
            "assessmentId": "reads",
            "assessmentTitle": "Reads",
            "candidateId": "c-reads",
            "candidateEmail": "c-reads@alpha.edu",
            "candidateFirstName": "C",
            "candidateLastName": "Reads",
            "institutionName": "Alpha",
            "examDuration": 3600,
        }
    )
    return session_start(request=request, origin="https://exams.alpha.edu").session


def _chunks(session, kind: str, seqs, *, analysed: bool) -> None:
    now = timezone.now()
    MediaChunk.objects.bulk_create(
        MediaChunk(
            institution_id=session.institution_id,
            session=session,
            kind=kind,
            seq=seq,
            captured_at=now,
            content_type="image/jpeg",
            file=f"reads/{kind}-{seq}.jpg",
            meta={"obs": {"faces": 1}} if analysed else {},
            analysed_at=now if analysed else None,
        )
        for seq in seqs
    )


STATE = {"frame": {"cursor": 40}, "snapshot": {"cursor": 3}, "audio": {"cursor": 2}}


def _stored(tenant, folded: int = 40):
    session = _session(tenant)
    _chunks(session, "frame", range(1, folded + 1), analysed=True)  # folded
    _chunks(session, "frame", range(folded + 1, folded + 4), analysed=False)  # after the cursor
    _chunks(session, "snapshot", [1, 3], analysed=True)
    _chunks(session, "snapshot", [2], analysed=False)  # came after its cursor had passed it
    _chunks(session, "snapshot", [4], analysed=False)
    _chunks(session, "audio", [1, 2], analysed=True)
    _chunks(session, "audio", [3], analysed=True)  # observed by a run that failed to fold it
    _chunks(session, "aux", [1], analysed=False)  # no cursor yet
    return session


def test_a_run_reads_what_is_after_the_cursors_and_what_is_behind_them_unanalysed(tenant_a):
    session = _stored(tenant_a)
    chunks, pending = _unfolded(session, STATE)
    assert {kind: [c.seq for c in found] for kind, found in chunks.items()} == {
        "frame": [41, 42, 43],
        "snapshot": [4],
        "audio": [3],
        "aux": [1],
    }
    # Snapshot 2 is observed for the replay and never folded; nothing is read twice.
    assert sorted((c.kind, c.seq) for c in pending) == [("aux", 1), ("snapshot", 2), ("snapshot", 4)]
    assert all(c.meta.get("obs") == {"faces": 1} for c in chunks["audio"])


def _scans(plan: dict) -> list[dict]:
    found = [plan] if plan.get("Relation Name") == MediaChunk._meta.db_table else []
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


def test_each_part_of_a_runs_read_is_a_range_of_the_session_kind_seq_index(tenant_a):
    """Not the session's every chunk filtered: SQLite read all of them on every run when the
    kinds were one OR under the session's id."""
    if connection.vendor == "sqlite":
        session = _stored(tenant_a)
        sql, params = _unfolded_sql(), _unfolded_params(session, STATE)
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            details = [row[-1] for row in cursor.fetchall()]
        searches = [d for d in details if MediaChunk._meta.db_table in d]
        assert len(searches) == 7, details
        assert all("kind=?" in d and ("seq>?" in d or "seq<?" in d) for d in searches), details
    else:
        # An hour of frames, with the table's statistics, so the planner weighs it as it would
        # a real session's rather than a handful of rows.
        session = _stored(tenant_a, folded=2000)
        state = {**STATE, "frame": {"cursor": 2000}}
        sql, params = _unfolded_sql(), _unfolded_params(session, state)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(MediaChunk._meta.db_table)}")
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            (plan,) = cursor.fetchone()
        plan = plan if isinstance(plan, list) else json.loads(plan)
        scans = _scans(plan[0]["Plan"])
        assert len(scans) == 7, plan
        conds = [(scan["Node Type"], scan.get("Index Cond", "")) for scan in scans]
        assert all("seq" in cond for _, cond in conds), conds
