"""make mutate: mutation testing (mutmut) of the modules where a silent bug costs most, one module
at a time, each against only the tests written for it, so a run takes minutes and fits on a
shared machine. Prints killed / survived per module and lists the survivors.

    .ci/mutate.py                 every module below
    .ci/mutate.py sessions.uploads tenants.services   some of them

Equivalent mutants that are kept (they cannot change behaviour) are listed in docs/testing.md.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module → the test files that exist for it
MODULES: dict[str, list[str]] = {
    "tenants.services": ["tests/test_signatures.py", "tests/test_api_keys.py"],
    "sessions.webhooks": ["tests/test_signatures.py"],
    "sessions.tokens": ["tests/test_signatures.py"],
    "sessions.media": ["tests/test_signatures.py"],
    "tenants.selectors": [
        "tests/dashboard/test_tenancy_foreign_rows.py",
        "tests/dashboard/test_access.py",
    ],
    "sessions.dashboard.selectors": [
        "tests/dashboard/test_tenancy_foreign_rows.py",
        "tests/dashboard/test_access.py",
        "tests/dashboard/test_list.py",
    ],
    "sessions.uploads": ["tests/widget/test_upload_refusals.py"],
    "analysis.tracker": ["tests/analysis/test_tracker.py", "tests/analysis/test_tracker_edges.py"],
    "analysis.episodes": ["tests/analysis/test_episodes.py"],
    "analysis.trust": ["tests/analysis/test_trust.py"],
}


def run(module: str, tests: list[str]) -> tuple[int, int, list[str]]:
    mutants = ROOT / "mutants"
    shutil.rmtree(mutants, ignore_errors=True)
    path = module.replace(".", "/") + ".py"
    driver = (
        "import sys, mutmut.configuration as c\n"
        "cfg = c.config()\n"
        f"cfg.only_mutate = [{path!r}]\n"
        f"cfg.pytest_add_cli_args_test_selection = {tests!r}\n"
        "from mutmut.__main__ import cli\n"
        "sys.argv = ['mutmut', 'run', '--max-children', '1']\n"
        "cli()\n"
    )
    subprocess.run([sys.executable, "-c", driver], cwd=ROOT, check=False, stdout=subprocess.DEVNULL)  # noqa: S603
    results = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    killed = survived = 0
    survivors = []
    for line in results.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if status == "killed":
            killed += 1
        elif status in {"survived", "no tests", "timeout", "suspicious"}:
            survived += 1
            survivors.append(f"{name} ({status})")
    return killed, survived, survivors


def main(argv: list[str]) -> int:
    chosen = argv or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        print(f"unknown module(s): {', '.join(unknown)}; choose from {', '.join(MODULES)}")
        return 2
    table = []
    for module in chosen:
        killed, survived, survivors = run(module, MODULES[module])
        table.append((module, killed, survived))
        print(f"== {module}: {killed} killed, {survived} survived", flush=True)
        for name in survivors:
            print(f"   survived: {name}")
    print(f"\n{'module':<32}{'killed':>8}{'survived':>10}")
    for module, killed, survived in table:
        print(f"{module:<32}{killed:>8}{survived:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
