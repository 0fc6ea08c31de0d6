"""Print line and branch coverage per package from the data `make test` collected (.coverage).

Packages are the top-level apps and their sub-packages (sessions/api, sessions/dashboard, ...),
so a gap in one part of an app is not averaged away by the rest of it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path


def main() -> int:
    report = subprocess.run(
        [sys.executable, "-m", "coverage", "json", "-q", "-i", "-o", "-"], capture_output=True, text=True
    )
    if report.returncode != 0:
        print(report.stderr.strip() or "no coverage data (run make test first)")
        return 1
    files = json.loads(report.stdout)["files"]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for name, data in files.items():
        parts = Path(name).parts
        package = "/".join(parts[:2]) if len(parts) > 2 else parts[0]
        s = data["summary"]
        for key, i in (
            ("num_statements", 0),
            ("covered_lines", 1),
            ("num_branches", 2),
            ("covered_branches", 3),
        ):
            totals[package][i] += s[key]
    print(f"{'package':<22}{'lines':>8}{'covered':>9}{'branches':>10}{'covered':>9}")
    for package, (lines, hit, branches, taken) in sorted(totals.items()):
        line_pct = 100 * hit / lines if lines else 100.0
        branch_pct = 100 * taken / branches if branches else 100.0
        print(f"{package:<22}{lines:>8}{line_pct:>8.1f}%{branches:>10}{branch_pct:>8.1f}%")
    lines, hit, branches, taken = (sum(t[i] for t in totals.values()) for i in range(4))
    print(f"{'total':<22}{lines:>8}{100 * hit / lines:>8.1f}%{branches:>10}{100 * taken / branches:>8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
