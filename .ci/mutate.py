"""make mutate: mutation testing (mutmut) of the modules where a silent bug costs most, one module
at a time, each against only the tests written for it, so a run takes minutes and fits on a
shared machine. Prints killed / survived per module and lists the survivors.

    .ci/mutate.py                 every module below
    .ci/mutate.py sessions.uploads tenants.services   some of them
    .ci/mutate.py --again sessions.uploads   only the last run's survivors of one module, again
                                              (after writing tests for them; killed stay killed)

Equivalent mutants that are kept (they cannot change behaviour) are listed in docs/testing.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module → (the test files that exist for it, the functions mutated: None for every function).
# The Django-backed modules are mutated where a silent bug lets a request through or shows a
# row to the wrong institution; the rest of each module (e.g. the dashboard's replay view
# model, webhook delivery bookkeeping) is left out so that a run fits in minutes.
MODULES: dict[str, tuple[list[str], list[str] | None]] = {
    "tenants.services": (
        [
            "tests/test_signatures.py",
            "tests/test_api_keys.py",
            "tests/widget/test_origins.py",
            "tests/widget/test_attempt_signing.py",
        ],
        [
            "api_key_revoke",
            "attempt_sign",
            "attempt_signature_verify",
            "_attempt_digests",
            "_decode_signature",
            "_key_lookup",
            "widget_key_check",
            "secret_key_authenticate",
            "parse_origin",
            "origin_allowed",
            "host_matches",
        ],
    ),
    "sessions.webhooks": (["tests/test_signatures.py"], ["webhook_sign", "webhook_signature_verify"]),
    "sessions.tokens": (["tests/test_signatures.py"], None),
    "sessions.media": (
        ["tests/test_signatures.py", "tests/test_evidence_links.py"],
        ["media_signed_url", "media_token_read", "media_response", "media_signed_view"],
    ),
    "tenants.selectors": (
        [
            "tests/test_tenancy_selectors.py",
            "tests/dashboard/test_tenancy_foreign_rows.py",
            "tests/dashboard/test_access.py",
        ],
        None,
    ),
    "sessions.dashboard.selectors": (
        [
            "tests/dashboard/test_tenancy_foreign_rows.py",
            "tests/dashboard/test_access.py",
            "tests/dashboard/test_list.py",
            "tests/dashboard/test_live_rows.py",
            "tests/dashboard/test_overview_figures.py",
            "tests/dashboard/test_dashboard_context.py",
            "tests/lti/test_lti_course_dashboard.py",
            "tests/test_accommodations.py",
        ],
        [
            "dashboard_context",
            "session_get",
            "media_get",
            "flag_get",
            "_course_access",
            "in_courses",
            "live_sessions",
            "session_list",
            "assessments_for",
            "accommodation_get",
            "institution_overview",
        ],
    ),
    "sessions.uploads": (
        [
            "tests/widget/test_upload_refusals.py",
            "tests/widget/test_upload_store.py",
            "tests/widget/test_quotas.py",
            "tests/widget/test_screen_and_recording.py",
        ],
        None,
    ),
    "sessions.rows": (
        [
            "tests/widget/test_session_rows.py",
            "tests/widget/test_upload_store.py",
            "tests/widget/test_upload_refusals.py",
        ],
        None,
    ),
    "analysis.tracker": (["tests/analysis/test_tracker.py", "tests/analysis/test_tracker_edges.py"], None),
    "analysis.episodes": (["tests/analysis/test_episodes.py"], None),
    "analysis.trust": (["tests/analysis/test_trust.py"], None),
}

# Every mutant runs its tests in a process forked from mutmut's. The test database is built
# from the models (not by replaying every migration), once per module: the first mutmut run
# builds it (fresh_test_database drops the last one first, so a changed model is never run
# against an old schema) and every mutant after it reuses it (building it again was ~5 s of a
# mutant's ~7 s on a loaded machine). Each test leaves it as it found it (a transaction rolled
# back, or a flush for the transactional ones); only a test killed half-way, i.e. a timeout,
# could leave rows behind, and timeouts are counted as survivors, never as killed.
PYTEST_ARGS = ["--nomigrations", "--reuse-db"]
TIMEOUT_CONSTANT = 5.0


def fresh_test_database() -> None:
    """Drop the test databases that ``--reuse-db`` would otherwise keep from an earlier run.

    mutmut runs pytest several times in one process before it forks the mutants (the coverage
    run, the clean run, the forced failure); a kept database leaves its name in the settings,
    so each of those runs prefixes it once more: ``test_pm``, ``test_test_pm``… Every one goes.
    """
    script = (
        "import django\n"
        "django.setup()\n"
        "from django.db import connection\n"
        "creation = connection.creation\n"
        "name = connection.settings_dict['NAME']\n"
        "if connection.vendor != 'sqlite':\n"
        "    for depth in range(1, 8):\n"
        "        try:\n"
        "            creation._destroy_test_db('test_' * depth + name, verbosity=0)\n"
        "        except Exception:  # noqa: S110 (not there: nothing to drop)\n"
        "            pass\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "proctorme.settings", "PROCTORME_TESTING": "1"}
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, env=env)  # noqa: S603


def results() -> list[tuple[str, str]]:
    """(mutant, status) of every mutant ``mutants/`` holds."""
    listing = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    return [
        (name, status) for name, _, status in (line.strip().rpartition(": ") for line in listing.splitlines())
    ]


def run(
    module: str, tests: list[str], functions: list[str] | None, *, again: bool = False
) -> tuple[int, int, list[str]]:
    mutants = ROOT / "mutants"
    path = module.replace(".", "/") + ".py"
    if again:
        # The mutants and their results stay; only those that were not killed run again.
        if not (mutants / f"{path}.meta").exists():
            raise SystemExit(f"mutants/ holds no run of {module}: run it whole first")
        _, _, survivors = run_counts(module, functions)
        patterns = [survivor.rpartition(" (")[0] for survivor in survivors]
        if not patterns:
            return run_counts(module, functions)
    else:
        shutil.rmtree(mutants, ignore_errors=True)
        patterns = [f"{module}.x_{name}__mutmut_*" for name in functions] if functions else []
    fresh_test_database()
    driver = (
        "import sys, mutmut.configuration as c\n"
        "cfg = c.config()\n"
        f"cfg.only_mutate = [{path!r}]\n"
        f"cfg.pytest_add_cli_args_test_selection = {tests!r}\n"
        f"cfg.pytest_add_cli_args = cfg.pytest_add_cli_args + {PYTEST_ARGS!r}\n"
        # A mutant's wall-clock limit is 15 × (its tests' time + this): the first mutant also
        # builds the test database, and a shared machine's load stretches every run.
        f"cfg.timeout_constant = {TIMEOUT_CONSTANT!r}\n"
        # Each mutant is forked from a process that has run pytest: asgiref's one shared
        # sync_to_async thread is not in the fork, and anything handed to it (every async
        # test's database call, conftest's closing of that thread's connection) would wait for
        # it until the mutant timed out. Each fork gets a thread of its own.
        "import os, concurrent.futures, asgiref.sync\n"
        "def _own_thread():\n"
        "    asgiref.sync.SyncToAsync.single_thread_executor = "
        "concurrent.futures.ThreadPoolExecutor(max_workers=1)\n"
        "os.register_at_fork(after_in_child=_own_thread)\n"
        "from mutmut.__main__ import cli\n"
        f"sys.argv = ['mutmut', 'run', '--max-children', '1'] + {patterns!r}\n"
        "cli()\n"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", driver],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        # A test whose service (PostgreSQL, Redis) is missing fails instead of skipping: a skip
        # would pass, and every mutant it was written for would survive unseen.
        env={**os.environ, "PROCTORME_REQUIRE_ALL": "1"},
    )
    if done.returncode != 0:
        # e.g. "Failed to run clean test": no mutant was tried, so there are no figures to print.
        tail = (done.stdout + done.stderr).splitlines()[-40:]
        raise SystemExit(f"mutmut stopped ({done.returncode}) on {module}:\n" + "\n".join(tail))
    fresh_test_database()
    return run_counts(module, functions)


def run_counts(module: str, functions: list[str] | None) -> tuple[int, int, list[str]]:
    """Killed / survived among the mutants of the listed functions (mutmut also lists the
    module's other functions' mutants, unchecked or with no tests; they are not counted)."""
    prefixes = tuple(f"{module}.x_{name}__mutmut_" for name in functions) if functions else (module + ".",)
    killed = survived = 0
    survivors = []
    for name, status in results():
        if not name.startswith(prefixes):
            continue
        if status == "killed":
            killed += 1
        elif status in {"survived", "no tests", "timeout", "suspicious"}:
            survived += 1
            survivors.append(f"{name} ({status})")
    return killed, survived, survivors


def main(argv: list[str]) -> int:
    again = "--again" in argv
    argv = [arg for arg in argv if arg != "--again"]
    if again and len(argv) != 1:
        print("--again takes one module: the one mutants/ holds")
        return 2
    chosen = argv or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        print(f"unknown module(s): {', '.join(unknown)}; choose from {', '.join(MODULES)}")
        return 2
    table = []
    started = time.monotonic()
    for module in chosen:
        begun = time.monotonic()
        killed, survived, survivors = run(module, *MODULES[module], again=again)
        table.append((module, killed, survived))
        print(
            f"== {module}: {killed} killed, {survived} survived ({time.monotonic() - begun:.0f} s)",
            flush=True,
        )
        for name in survivors:
            print(f"   survived: {name}")
    print(f"\n{'module':<32}{'killed':>8}{'survived':>10}")
    for module, killed, survived in table:
        print(f"{module:<32}{killed:>8}{survived:>10}")
    print(f"{time.monotonic() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
