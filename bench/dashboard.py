"""The reviewer's sessions list with 10,000 sessions against the same list with 100, same run.

    .venv/bin/python bench/dashboard.py [--sessions 10000] [--rounds 15]

A throwaway SQLite database in a temporary folder (or ``BENCH_DATABASE_URL``,
which must name an empty database you do not need: it is migrated and filled)
gets one institution with 100 sessions, then 10,000; each has a candidate,
one of 20 assessments, a trust score and about two flags. Each view of the
list (first page, high risk sorted by score, a search, a flag-type filter,
100 per page) is requested through Django's test client as a signed-in
reviewer, ``--rounds`` times; the median time and the number of SQL queries
are printed at both sizes, with their ratio. The CSV export of every session
is timed the same way. Figures only: nothing is asserted on time.

Measured on the development machine (one run each): the list is 7 queries at
100 and at 10,000 sessions, at 25 and at 100 rows a page. At 10,000 against
100 the first page took 1.1x as long on SQLite (41 ms against 37 ms) and 1.5x
on PostgreSQL; a search or a flag-type filter, which scan the institution's
rows, 2.3-2.5x; the CSV of every session grows with its rows (0.12 ms a row
on SQLite).
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TYPES = ["FACE_ABSENCE", "MULTIPLE_FACE", "LOOKING_AWAY", "TAB_NOT_FOCUS", "SOUND_DETECTED", "COPY_PASTE"]
FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine", "Tim"]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "McCarthy",
    "Johnson",
    "Smith",
]


def _setup(database_url: str | None) -> None:
    tmp = tempfile.mkdtemp(prefix="bench-dashboard-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # its database and media go with it
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ["SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
    os.environ["MEDIA_ROOT"] = str(Path(tmp) / "media")
    os.environ.setdefault("SECRET_KEY", "bench-dashboard-not-secret-" + "x" * 30)
    os.environ["DEBUG"] = "0"
    os.environ["PROCTORME_TESTING"] = "1"  # inline tasks, fast password hashing
    os.environ["DJANGO_SETTINGS_MODULE"] = "proctorme.settings"
    os.environ["LOG_LEVEL"] = "ERROR"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _fill(institution, count: int, start: int, rng: random.Random) -> None:
    from django.utils import timezone

    from sessions.models import Assessment, Candidate, Flag, ProctoringSession

    assessments = list(Assessment.objects.filter(institution=institution))
    if not assessments:
        assessments = Assessment.objects.bulk_create(
            Assessment(institution=institution, external_id=f"exam-{i}", title=f"Exam {i}") for i in range(20)
        )
        assessments = list(Assessment.objects.filter(institution=institution))
    now = timezone.now()
    batch = 1000
    for offset in range(0, count, batch):
        n = min(batch, count - offset)
        ids = range(start + offset, start + offset + n)
        candidates = Candidate.objects.bulk_create(
            Candidate(
                institution=institution,
                external_id=f"cand-{i}",
                first_name=rng.choice(FIRST),
                last_name=rng.choice(LAST),
                email=f"cand-{i}@students.bench",
            )
            for i in ids
        )
        candidates = list(
            Candidate.objects.filter(institution=institution, external_id__in=[f"cand-{i}" for i in ids])
        )
        sessions = []
        for i, candidate in zip(ids, candidates, strict=True):
            started = now - timedelta(minutes=rng.randint(5, 90 * 24 * 60))
            score = round(rng.triangular(0, 100, 95), 1)
            sessions.append(
                ProctoringSession(
                    institution=institution,
                    assessment=rng.choice(assessments),
                    candidate=candidate,
                    attempt_id=f"eye:bench:{i}",
                    status="completed",
                    started_at=started,
                    ended_at=started + timedelta(minutes=rng.randint(20, 120)),
                    trust_score=score,
                    score_final=True,
                    verdict=rng.choice(["", "", "", "cleared", "suspicious", "violation"]),
                )
            )
        ProctoringSession.objects.bulk_create(sessions)
        created = list(ProctoringSession.objects.filter(attempt_id__in=[s.attempt_id for s in sessions]))
        flags = []
        for session in created:
            for k in range(rng.choice([0, 0, 1, 2, 3, 5])):
                at = session.started_at + timedelta(minutes=rng.randint(1, 19))
                flags.append(
                    Flag(
                        institution=institution,
                        session=session,
                        type=rng.choice(TYPES),
                        started_at=at,
                        ended_at=at + timedelta(seconds=10),
                        duration_seconds=10,
                        episode_key=f"bench@{k}",
                    )
                )
        Flag.objects.bulk_create(flags)


def _measure(client, url: str, rounds: int) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm caches (templates, statements)
    times = []
    queries = 0
    size = 0
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            response = client.get(url)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            times.append(time.perf_counter() - t0)
        assert response.status_code == 200, (url, response.status_code)
        queries, size = len(ctx.captured_queries), len(body)
    return statistics.median(times) * 1000, queries, size


VIEWS = [
    ("list, first page (25)", "/dashboard/"),
    ("high risk, by score", "/dashboard/?band=high&sort=trust_score"),
    ("search 'grace hop'", "/dashboard/?q=grace+hop"),
    ("flag type filter", "/dashboard/?flag_type=MULTIPLE_FACE"),
    ("100 per page", "/dashboard/?per_page=100&sort=-trust_score"),
    ("page 4 of the results", "/dashboard/?page=4"),
    ("CSV export, all", "/dashboard/sessions.csv"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    _setup(os.environ.get("BENCH_DATABASE_URL"))

    from django.db import connection
    from django.test import Client

    from sessions.models import ProctoringSession
    from tenants.services import institution_create, membership_add

    rng = random.Random(42)
    institution, _, _ = institution_create(name="Bench University", domains=["exams.bench.edu"])
    reviewer = membership_add(institution=institution, email="reviewer@bench.test", role="reviewer").user
    client = Client()
    client.force_login(reviewer)

    def spread() -> None:
        # started_at is auto_now_add, which bulk_create keeps: give each session its own start.
        from django.db import transaction
        from django.utils import timezone

        now = timezone.now()
        with transaction.atomic():
            for pk in ProctoringSession.objects.filter(institution=institution).values_list("pk", flat=True):
                started = now - timedelta(minutes=(pk * 7919) % (90 * 24 * 60) + 60)
                ProctoringSession.objects.filter(pk=pk).update(
                    started_at=started, ended_at=started + timedelta(minutes=20 + pk % 100)
                )

    print(
        f"database: {connection.vendor}; median of {args.rounds} requests; signed-in reviewer, Django test client"
    )
    _fill(institution, args.baseline, 0, rng)
    spread()
    small = {name: _measure(client, url, args.rounds) for name, url in VIEWS}
    t0 = time.perf_counter()
    _fill(institution, args.sessions - args.baseline, args.baseline, rng)
    spread()
    fill_s = time.perf_counter() - t0
    total = ProctoringSession.objects.filter(institution=institution).count()
    large = {name: _measure(client, url, args.rounds) for name, url in VIEWS}

    print(f"sessions: {args.baseline} (baseline) and {total} (filled in {fill_s:.0f} s)\n")
    header = f"{'view':<24} {'queries':>9} {'ms @' + str(args.baseline):>10} {'ms @' + str(total):>11} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for name, _ in VIEWS:
        (ms_small, q_small, _), (ms_large, q_large, _) = small[name], large[name]
        queries = f"{q_small}→{q_large}" if q_small != q_large else str(q_small)
        print(f"{name:<24} {queries:>9} {ms_small:>10.1f} {ms_large:>11.1f} {ms_large / ms_small:>6.1f}x")
    print(
        "\nThe list's query count does not grow with the data or the page size; its time grows with the"
        "\ncount and the ordering over the institution's rows. The CSV export grows with the rows it writes."
    )


if __name__ == "__main__":
    main()
