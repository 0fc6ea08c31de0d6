"""The session replay, the live page (with its intervention panel) and the overview in French
and Arabic: no visible English string is left, and the scripts' strings come translated.

Each page is rendered in English first; every visible text (text nodes and the alt, title,
aria-label and placeholder attributes) is then looked for in the French and Arabic renders of
the same rows. A string found unchanged is untranslated unless it is data (a name, a code, a
number) or its French translation is the same word."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from sessions.dashboard.services import flag_dismiss, session_verdict_set
from sessions.intervention import message_send
from sessions.lti.models import LtiAttempt
from sessions.lti.registrations import lti_registration_create
from tests.dashboard.dashboard_factories import make_flag, make_media, make_session, session_with_evidence

pytestmark = pytest.mark.django_db
ATTRIBUTES = {"alt", "title", "aria-label", "placeholder"}
# Tokens of data, never of prose: codes, numbers, clocks, units, ids.
DATA = re.compile(r"^[\W\d_]*$|^[A-Z][A-Z_]+$|^[0-9a-f-]{36}$|^\d+(\.\d+)?\s?(s|%|×)$|^Proctorme$|^PDF$")


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ATTRIBUTES and value:
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.texts.append(data)


def visible(html: str) -> set[str]:
    parser = _Visible()
    parser.feed(html)
    pieces = set()
    for text in parser.texts:
        for piece in re.split(r"\s*[·/→—–:;()“”«»,]\s*", " ".join(text.split())):
            piece = piece.strip(" .…")
            if piece and re.search(r"[A-Za-z]{2}", piece) and not DATA.match(piece):
                pieces.add(piece)
    return pieces


# Words French shares with English in these pages' strings ("images : 3", "Lecture / pause").
FRENCH_TOO = {"images", "pause"}


def _same_in_french() -> set[str]:
    po = (Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    return FRENCH_TOO | {m.group(1) for m in re.finditer(r'^msgid "(.+)"\nmsgstr "\1"$', po, re.M)}


@pytest.fixture
def rows(tenant_a):
    institution = tenant_a.institution
    session, absence, sound, frames = session_with_evidence(
        institution, first="Ada", last="Lovelace", title="Biology"
    )
    flag_dismiss(flag=sound, actor=tenant_a.reviewer, reason="radio next door")
    session_verdict_set(session=session, actor=tenant_a.reviewer, verdict="cleared", notes="fine")
    registration = lti_registration_create(
        institution=institution,
        name="Moodle",
        issuer="https://moodle.alpha.edu",
        client_id="c1",
        deployment_ids=["1"],
        auth_login_url="https://moodle.alpha.edu/auth",
        auth_token_url="https://moodle.alpha.edu/token",
        key_set_url="https://moodle.alpha.edu/jwks",
    )
    LtiAttempt.objects.create(
        institution=institution,
        registration=registration,
        session=session,
        deployment_id="1",
        user_sub="s1",
        context_id="c7",
        resource_link_id="quiz",
        attempt_number=1,
        session_data="x",
        start_assessment_url="https://moodle.alpha.edu/start",
        acs_url="https://moodle.alpha.edu/acs",
        acs_actions=["flag", "pause", "resume", "update", "terminate"],
    )
    running = make_session(institution, first="Bo", last="Brown", status="active", score=None)
    make_media(running, kind="frame", seq=1, at_seconds=5)
    make_flag(running, type="MULTIPLE_FACE", at_seconds=3)
    message_send(session=running, text="Eyes on the screen", actor=tenant_a.reviewer)
    return {"session": session, "running": running}


def _data_of(rows, tenant_a) -> set[str]:
    """The rows' own words (names, titles, reasons, descriptions), which stay as they are."""
    words = {"Ada Lovelace", "Bo Brown", "Biology", "Moodle", "radio next door", "fine", "Eyes on the screen"}
    words |= {tenant_a.institution.name, tenant_a.reviewer.email, tenant_a.admin.email}
    words |= {name for _, name in settings.LANGUAGES}  # the language menu names each in its own
    for session in (rows["session"], rows["running"]):
        words |= {session.candidate.email, session.assessment.external_id, session.candidate.external_id}
        words |= {f.description for f in session.flags.all()}
    return words


def _pages(rows):
    return {
        "replay": reverse("dashboard:session", args=[rows["session"].public_id]),
        "live": reverse("dashboard:live") + f"?session={rows['running'].public_id}",
        "overview": reverse("dashboard:overview"),
    }


def _get(client, url, language):
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("page", ["replay", "live", "overview"])
@pytest.mark.parametrize("language", ["fr", "ar"])
def test_no_english_string_is_left_on_the_page(tenant_a, rows, page, language):
    client = Client()
    client.force_login(tenant_a.admin)
    url = _pages(rows)[page]
    english = visible(_get(client, url, "en"))
    assert len(english) > 20  # the page has prose to translate
    data = _data_of(rows, tenant_a)
    same = _same_in_french() if language == "fr" else set()
    translated = _get(client, url, language)
    assert f'<html lang="{language}" dir="{"rtl" if language == "ar" else "ltr"}">' in translated
    left = {
        text
        for text in english & visible(translated)
        if text not in data and not any(text in d for d in data) and text not in same
    }
    assert left == set(), f"untranslated on the {page} page in {language}: {sorted(left)}"


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_the_scripts_strings_are_translated(tenant_a, rows, language):
    client = Client()
    client.force_login(tenant_a.admin)

    def catalogue(lang):
        html = _get(client, _pages(rows)["live"], lang)
        found = re.search(r'<script type="application/json" id="dashboard-i18n">(.*?)</script>', html, re.S)
        return json.loads(found.group(1))

    english, translated = catalogue("en"), catalogue(language)
    assert english["frameAt"] == "Frame at {t}" and english["online"] == "online"
    assert set(translated) == set(english)
    same = _same_in_french() if language == "fr" else set()
    left = sorted(k for k, v in translated.items() if v == english[k] and v not in same)
    assert left == []
    # Placeholders survive translation.
    for key, value in english.items():
        assert re.findall(r"\{\w+\}", translated[key]) == re.findall(r"\{\w+\}", value), key
