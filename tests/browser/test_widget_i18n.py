"""The widget in the candidate's language: `locale`, the page's lang, right-to-left, and styles
that a strict Content-Security-Policy does not block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .helpers import eye_page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]

I18N = Path(__file__).resolve().parents[2] / "static" / "proctorme" / "src" / "i18n.js"


def locale_keys() -> dict[str, set[str]]:
    text = I18N.read_text(encoding="utf-8")
    tables = re.findall(r"^  (\w+): \{\n(.*?)^  \},", text, re.M | re.S)
    return {name: set(re.findall(r'^    "([\w.]+)":', body, re.M)) for name, body in tables}


def test_every_language_has_every_text():
    tables = locale_keys()
    assert set(tables) == {"en", "fr", "ar"}
    # English's error texts are the MESSAGES of contract.js; the others carry their own.
    messages = re.findall(r"^  (\w+): \"", (I18N.parent / "contract.js").read_text(), re.M)
    english = tables["en"] | {f"error.{code}" for code in messages}
    for name in ("fr", "ar"):
        assert tables[name] == english, name


def test_locale_option_gives_the_consent_notice_in_french(page, pages_root, site_urls, proctorme_url, school):
    page.goto(eye_page(pages_root, site_urls, proctorme_url, school, lang="en", locale="fr-CA"))
    dialog = page.get_by_role("dialog", name="Cet examen est surveillé")
    dialog.wait_for()
    overlay = page.locator("[data-proctorme=consent]")
    assert overlay.get_attribute("lang") == "fr" and overlay.get_attribute("dir") == "ltr"
    assert page.locator("[data-proctorme=widget]").get_attribute("lang") == "fr"
    assert dialog.get_by_role("button", name="J’accepte — lancer la surveillance").is_visible()
    assert "Alpha University utilise Proctorme pour surveiller « Algebra »" in dialog.inner_text()
    assert page.get_by_role("status").inner_text().strip() == "En attente de votre accord"


def test_page_lang_gives_arabic_laid_out_right_to_left(page, pages_root, site_urls, proctorme_url, school):
    page.set_viewport_size({"width": 1000, "height": 700})
    page.goto(eye_page(pages_root, site_urls, proctorme_url, school, lang="ar", locale=None))
    dialog = page.get_by_role("dialog", name="هذا الامتحان مراقَب")
    dialog.wait_for()
    assert page.locator("[data-proctorme=consent]").get_attribute("dir") == "rtl"
    assert dialog.evaluate("d => getComputedStyle(d).direction") == "rtl"
    accept = dialog.get_by_role("button", name="أوافق — ابدأ المراقبة").bounding_box()
    decline = dialog.get_by_role("button", name="رفض").bounding_box()
    # Right to left: the first button (decline) is on the right, the actions sit on the left edge.
    assert decline["x"] > accept["x"]
    box = dialog.bounding_box()
    assert accept["x"] - box["x"] < 60
    badge = page.locator("[data-proctorme=widget]").bounding_box()
    assert badge["x"] < 100  # the status card sits at the bottom left

    dialog.get_by_role("button", name="أوافق — ابدأ المراقبة").click()
    page.get_by_role("status").filter(has_text="المراقبة قيد التشغيل").wait_for(timeout=15_000)


STRICT_CSP = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
    "script-src {server} blob: 'nonce-n0nce'; style-src {style}; connect-src {server} {ws}\">"
)


@pytest.mark.parametrize("constructable", [True, False], ids=["adopted-stylesheet", "style-nonce"])
def test_widget_styles_apply_under_a_strict_style_src(
    constructable, page, pages_root, site_urls, proctorme_url, school
):
    style = "'self'"  # no 'unsafe-inline': constructed stylesheets need nothing more
    if not constructable:  # an older browser: the widget falls back to <style nonce>
        page.add_init_script("delete Document.prototype.adoptedStyleSheets;")
        style = "'nonce-n0nce'"
    head = STRICT_CSP.format(server=proctorme_url, ws=proctorme_url.replace("http", "ws", 1), style=style)
    page.goto(eye_page(pages_root, site_urls, proctorme_url, school, lang="en", locale=None, head=head))
    dialog = page.get_by_role("dialog", name="This exam is proctored")
    dialog.wait_for()
    assert page.locator("[data-proctorme=consent]").evaluate("o => getComputedStyle(o).position") == "fixed"
    assert dialog.evaluate("d => getComputedStyle(d).borderRadius") == "14px"
    assert page.evaluate("violations") == []
    # The whole session runs under docs/widget.md's policy: uploads, the WebSocket, the worklet.
    dialog.get_by_role("button", name="I agree — start proctoring").click()
    page.get_by_role("status").filter(has_text="Proctoring on").wait_for(timeout=15_000)
    page.wait_for_function(
        "() => window.Proctorme.capture && window.Proctorme.capture.stats.acknowledged.frame > 0 && window.Proctorme.capture.stats.audioWindows.seen > 0",
        timeout=20_000,
    )
    assert page.evaluate("violations") == []
