"""axe-core on what the candidate meets: the consent notice, the system-check screen and the
status badge, in a left-to-right and a right-to-left language. No serious or critical violation."""

from __future__ import annotations

import re

import pytest

from .axe import assert_accessible
from .helpers import eye_page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_consent_system_check_and_badge_have_no_serious_violations(
    lang, page, pages_root, site_urls, proctorme_url, school
):
    # Hold the speed probe (answered later) so the system-check screen stays up for axe.
    held = []

    page.goto(eye_page(pages_root, site_urls, proctorme_url, school, lang=lang, locale=None))
    page.locator("[data-proctorme=consent] [role=dialog]").wait_for()
    assert_accessible(page, f"widget consent notice ({lang})", context="[data-proctorme=consent]")

    page.route(re.compile(r"/widget/v1/ping\?bytes=200000"), lambda route: held.append(route))
    page.locator("[data-proctorme=consent-accept]").click()
    page.locator("[data-proctorme=widget] .pm-badge[data-state=connecting]").wait_for()
    for _ in range(100):  # route handlers run while Playwright waits
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the system check never probed the connection"
    assert_accessible(page, f"widget system check ({lang})", context="[data-proctorme=widget]")
    held[0].continue_()

    page.locator("[data-proctorme=widget] .pm-badge[data-state=monitoring]").wait_for(timeout=15_000)
    assert_accessible(page, f"widget badge ({lang})", context="[data-proctorme=widget]")
