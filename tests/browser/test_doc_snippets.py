"""Every code block in README.md and docs/ marked ```html runnable is run in Chromium.

The snippet becomes an exam page on the institution's registered site, with the placeholders
an integrator would fill in replaced by this test's server, keys and build: the example host
(``https://proctor.example.edu``), ``"pk_…"``, an AutoProctor ``hashedTestAttemptId: "…"``
(signed here with the secret key), a pinned build's name and its ``sha384-…``. The page must
load the widget without a script error; a snippet that starts proctoring must start a session
once the candidate agrees to the consent notice.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import PAGE_HOST
from .helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.M | re.S)
EXAMPLE_HOSTS = re.compile(r"https://proctor(?:me)?\.example\.edu")


def code_blocks() -> list[tuple[str, list[str], str]]:
    blocks = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            indent = len(match.group("indent"))
            body = "\n".join(row[indent:] for row in match.group("body").splitlines())
            blocks.append((f"{path.relative_to(ROOT)}:{line}", match.group("info").split(), body))
    return blocks


RUNNABLE = [(where, body) for where, info, body in code_blocks() if "runnable" in info]


def test_every_widget_snippet_is_marked_runnable():
    loads_widget = [
        where for where, info, body in code_blocks() if info[:1] == ["html"] and "/widget" in body
    ]
    unmarked = [where for where, info, _ in code_blocks() if where in loads_widget and "runnable" not in info]
    assert not unmarked, f"mark these ```html runnable (this test runs them): {unmarked}"
    assert len(RUNNABLE) >= 5


def fill_in(snippet: str, *, server: str, school) -> str:
    from sessions.widget_script import widget_script
    from tenants.services import attempt_sign

    build = widget_script()
    snippet = EXAMPLE_HOSTS.sub(server, snippet)
    snippet = snippet.replace('"pk_…"', f'"{school.publishable_key}"')
    snippet = re.sub(r"/widget/[0-9][^/\s\"]*-[0-9a-f]{12}/", f"/widget/{build.build}/", snippet)
    snippet = snippet.replace('"sha384-…"', f'"{build.integrity(minified=True)}"')
    attempt = re.search(r'testAttemptId: "([^"]+)"', snippet)
    if attempt:
        signature = attempt_sign(secret_key=school.secret_key, attempt_id=attempt.group(1))
        snippet = snippet.replace('hashedTestAttemptId: "…"', f'hashedTestAttemptId: "{signature}"')
    assert '…"' not in snippet, "a placeholder this test does not know how to fill in"
    return snippet


@pytest.mark.parametrize(("where", "snippet"), RUNNABLE, ids=[where for where, _ in RUNNABLE])
def test_snippet_runs(where, snippet, page, proctorme_url, pages_root, site_urls, school):
    from sessions.models import ProctoringSession

    name = re.sub(r"[^a-z0-9]+", "-", where.lower()) + ".html"
    html = fill_in(snippet, server=proctorme_url, school=school)
    (pages_root / name).write_text(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>{where}</title></head>'
        f"<body>\n{html}\n</body></html>",
        encoding="utf-8",
    )
    page.goto(f"{site_urls[PAGE_HOST]}/{name}")
    page.wait_for_function("window.Proctorme && window.Proctorme.version", timeout=10_000)

    if ".init(" in snippet or ".setup(" in snippet:
        page.get_by_role("button", name="I agree").click(timeout=10_000)
        started = wait_until(
            lambda: ProctoringSession.objects.filter(institution=school.institution).first(),
            timeout=15,
            message=f"{where}: no session started",
        )
        wait_until(
            lambda: started.events.filter(type="SYSTEM_CHECK_COMPLETED").exists(),
            timeout=15,
            message=f"{where}: the system check never completed",
        )
    errors = [m for m in page.console_messages if m.startswith(("pageerror", "error"))]
    assert errors == [], f"{where} logged errors"
