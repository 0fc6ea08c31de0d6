"""make escapes: the deliberate bugs that once escaped the suite, put back one at a time.

Each row below is a bug that a reviewer put into the production code by hand and that no test
caught at the time (tenancy filters dropped, signatures half-checked, a duplicate check on the
wrong key, a minimum duration gone). First every row's tests are run once on the code as it is
(they must pass, or a failure would count as a catch); then, for each row in turn, the bug is
written into the file, its tests are run again (they must fail), and the file is written back
exactly as it was, whatever happens. A row whose text is no
longer in its file is an error, not a pass: the code moved, so the row must be written again for
the new code, never dropped.

    .ci/escapes.py            every row; exit 1 if any bug escapes or a row no longer applies
    .ci/escapes.py webhook    the rows whose behaviour contains "webhook"

Needs the services the named tests need (PostgreSQL or SQLite as DATABASE_URL says). Takes a
minute or two; `make mutate` (mutmut) covers the same modules mutant by mutant.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Escape:
    behaviour: str
    bug: str
    path: str
    # (text as it is, text with the bug): each text must occur in the file exactly once.
    edits: tuple[tuple[str, str], ...]
    tests: tuple[str, ...]


SIGNATURES = "tests/test_signatures.py"
FOREIGN = "tests/dashboard/test_tenancy_foreign_rows.py"

ESCAPES = (
    Escape(
        "live page tenancy",
        "live_sessions without its institution filter",
        "sessions/dashboard/selectors.py",
        (
            (
                "filter(\n                    institution=institution, status=ProctoringSession.Status.ACTIVE\n",
                "filter(\n                    status=ProctoringSession.Status.ACTIVE\n",
            ),
        ),
        (f"{FOREIGN}::test_live_sessions_leave_out_a_running_foreign_session",),
    ),
    Escape(
        "overview tenancy",
        "the overview's sessions (its window and its pending reviews) without the institution filter",
        "sessions/dashboard/selectors.py",
        (
            (
                "sessions = in_courses(ProctoringSession.objects.filter(institution=institution), courses)\n"
                "    window = ",
                "sessions = in_courses(ProctoringSession.objects.all(), courses)\n    window = ",
            ),
        ),
        (f"{FOREIGN}::test_overview_counts_only_the_institutions_sessions_flags_and_reviews",),
    ),
    Escape(
        "overview tenancy",
        "the overview's flags by type without the institution filter",
        "sessions/dashboard/selectors.py",
        (
            (
                "institution=institution, dismissed_at__isnull=True, session__started_at__date__gte=since",
                "dismissed_at__isnull=True, session__started_at__date__gte=since",
            ),
        ),
        (f"{FOREIGN}::test_overview_counts_only_the_institutions_sessions_flags_and_reviews",),
    ),
    Escape(
        "webhook signature",
        "compare only the first 8 characters",
        "sessions/webhooks.py",
        (
            (
                "hmac.compare_digest(expected, candidate)",
                "hmac.compare_digest(expected[:8], candidate[:8])",
            ),
        ),
        (f"{SIGNATURES}::test_a_v1_with_any_one_hex_digit_changed_is_refused",),
    ),
    Escape(
        "webhook signature",
        "accept a truncated v1 (expected.startswith(given))",
        "sessions/webhooks.py",
        (("hmac.compare_digest(expected, candidate)", "expected.startswith(candidate)"),),
        (f"{SIGNATURES}::test_a_truncated_v1_is_refused",),
    ),
    Escape(
        "webhook signature",
        "accept timestamps in the future (no abs())",
        "sessions/webhooks.py",
        (("if abs(current - timestamp) > tolerance:", "if current - timestamp > tolerance:"),),
        (f"{SIGNATURES}::test_a_timestamp_too_far_in_the_future_is_refused",),
    ),
    Escape(
        "AutoProctor HMAC",
        "compare the first 4 bytes with ==",
        "tenants/services.py",
        (("hmac.compare_digest(expected, given)", "expected[:4] == given[:4]"),),
        (f"{SIGNATURES}::test_an_attempt_signature_with_any_one_byte_changed_is_refused",),
    ),
    Escape(
        "AutoProctor HMAC",
        "accept a revoked or an expired secret key (no revoked_at filter, no is_active check)",
        "tenants/services.py",
        (
            ("kind__in=SIGNING_KINDS, revoked_at=None)", "kind__in=SIGNING_KINDS)"),
            ("if not api_key.is_active:\n            continue", "if False:\n            continue"),
        ),
        (
            f"{SIGNATURES}::test_an_expired_secret_no_longer_signs_while_another_active_one_does",
            f"{SIGNATURES}::test_a_revoked_secret_no_longer_signs_while_another_active_one_does",
        ),
    ),
    Escape(
        "upload idempotency",
        "dedupe on seq alone, ignoring kind",
        "sessions/uploads.py",
        (
            (
                "in _stored_counts(session.pk, kinds, seqs):",
                "in _stored_counts(session.pk, set(MediaChunk.Kind.values), seqs):",
            ),
            (
                "MediaChunk.objects.filter(session=session, kind__in=kinds, seq__in=seqs).values_list(",
                "MediaChunk.objects.filter(session=session, seq__in=seqs).values_list(",
            ),
            (
                "if (item.kind, item.seq) not in existing)",
                "if item.seq not in {seq for _, seq in existing})",
            ),
            (
                "if (item.kind, item.seq) in existing:",
                "if item.seq in {seq for _, seq in existing}:",
            ),
        ),
        (
            "tests/widget/test_upload_refusals.py::test_a_snapshot_with_the_seq_of_a_stored_frame_is_stored_not_a_duplicate",
        ),
    ),
    Escape(
        "FACE_ABSENCE minimum",
        "minimum duration 5 s -> 0 s",
        "sessions/analysis_pipeline.py",
        (('"FACE_ABSENCE": (5.0, 2.5),', '"FACE_ABSENCE": (0.0, 2.5),'),),
        ("tests/analysis/test_pipeline_rules.py::test_a_run_one_second_short_of_its_minimum_raises_nothing",),
    ),
)


def _pytest(tests: tuple[str, ...]) -> int:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-x",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        *tests,
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    return done.returncode


def _with_bug(escape: Escape) -> str:
    """The file's text with the bug in; raises LookupError if a text is not there exactly once."""
    text = (ROOT / escape.path).read_text(encoding="utf-8")
    for before, after in escape.edits:
        found = text.count(before)
        if found != 1:
            raise LookupError(f"{escape.path}: {found} places hold {before!r}")
        text = text.replace(before, after)
    return text


def check(escape: Escape) -> str:
    """'caught', 'ESCAPED', or what went wrong; the file is as it was on return."""
    try:
        buggy = _with_bug(escape)
    except LookupError as gone:
        return f"ERROR, the code moved ({gone})"
    path = ROOT / escape.path
    original = path.read_bytes()
    try:
        path.write_text(buggy, encoding="utf-8")
        outcome = _pytest(escape.tests)
    finally:
        path.write_bytes(original)
    # pytest exits 1 when tests ran and some failed; anything else (2 interrupted, 3 internal
    # error, 4 usage, 5 nothing collected) is not a catch.
    return {0: "ESCAPED", 1: "caught"}.get(outcome, f"ERROR, pytest exited {outcome}")


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    wanted = [e for e in ESCAPES if not argv or any(word.lower() in e.behaviour.lower() for word in argv)]
    started = time.monotonic()
    tests = tuple(dict.fromkeys(test for escape in wanted for test in escape.tests))
    if _pytest(tests) != 0:
        print(f"the tests fail on the code as it is, so no bug can be said to be caught: {' '.join(tests)}")
        return 1
    bad = 0
    print(f"{'behaviour':22} {'deliberate bug':88} outcome")
    for escape in wanted:
        outcome = check(escape)
        bad += outcome != "caught"
        print(f"{escape.behaviour:22} {escape.bug:88} {outcome}", flush=True)
        if outcome != "caught":
            print(f"{'':22}   tests: {' '.join(escape.tests)}")
    print(f"{len(wanted) - bad} of {len(wanted)} caught, {time.monotonic() - started:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
