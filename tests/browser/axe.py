"""axe-core (npm, a development tool in node_modules/) run inside a Playwright page.

``axe_check(page, "sessions list")`` injects axe, runs it on the whole page,
prints every violation (rule, impact, how many elements, the first target) and
returns the result; ``assert_accessible(page, name)`` also fails on any
serious or critical violation. The script is evaluated through the DevTools
protocol, so a page's Content-Security-Policy does not stop it.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import require

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
SUMMARY: list[str] = []  # printed at the end of the run by tests/browser/conftest.py


def axe_check(page, name: str, *, context: object = None) -> dict:
    require(AXE.exists(), f"axe-core is not installed ({AXE} missing): run npm ci")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;void 0")
    result = page.evaluate(
        """async (context) => {
            const r = await axe.run(context || document, {resultTypes: ["violations"]});
            return {
                url: r.url,
                passes: r.passes.length,
                incomplete: r.incomplete.length,
                violations: r.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.length, target: v.nodes[0] && v.nodes[0].target.join(" "),
                })),
            };
        }""",
        context,
    )
    lines = [
        f"axe {name}: {len(result['violations'])} violation(s), {result['passes']} rules passed,"
        f" {result['incomplete']} to review by hand ({result['url']})"
    ]
    for v in result["violations"]:
        lines.append(
            f"  [{v['impact']}] {v['id']}: {v['help']} — {v['nodes']} element(s), e.g. {v['target']}"
        )
    print("\n".join(lines))
    SUMMARY.extend(lines)
    return result


def assert_accessible(page, name: str, *, context: object = None) -> dict:
    result = axe_check(page, name, context=context)
    blocking = [v for v in result["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"{name}: serious or critical accessibility violations: {blocking}"
    return result
