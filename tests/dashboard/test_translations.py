"""The dashboard's languages (en, fr, ar): complete catalogues, compiled .mo files that match
their .po, and pages that follow the browser's language (right to left for Arabic)."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import require

LOCALES = Path(settings.BASE_DIR) / "locale"
SHIPPED = ["fr", "ar"]


def test_the_dashboard_ships_the_widgets_languages():
    widget = (Path(settings.BASE_DIR) / "static" / "proctorme" / "src" / "i18n.js").read_text()
    widget_languages = set(re.findall(r"^  (\w+): \{$", widget, re.M))
    assert {code for code, _ in settings.LANGUAGES} == widget_languages == {"en", *SHIPPED}


@pytest.mark.parametrize("language", SHIPPED)
def test_every_message_is_translated(language):
    po = (LOCALES / language / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    entries = po.split("\n\n")[1:]
    assert len(entries) > 50
    untranslated = [e for e in entries if re.search(r'^msgstr(\[\d\])? ""\n?(?!")', e + "\n", re.M)]
    assert untranslated == []
    assert "#, fuzzy" not in po


@pytest.mark.parametrize("language", SHIPPED)
def test_the_committed_mo_is_the_compiled_po(language, tmp_path):
    require(
        shutil.which("msgfmt") is not None, "GNU gettext's msgfmt is not installed (apt-get install gettext)"
    )
    folder = LOCALES / language / "LC_MESSAGES"
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(folder / "django.po")], check=True)
    with fresh.open("rb") as compiled, (folder / "django.mo").open("rb") as committed:
        expected = gettext.GNUTranslations(compiled)._catalog
        assert gettext.GNUTranslations(committed)._catalog == expected, (
            f"locale/{language}: run `python manage.py compilemessages` and commit the .mo"
        )


def test_pages_follow_the_browsers_language(client, tenant_a):
    client.force_login(tenant_a.admin)
    french = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content.decode()
    assert '<html lang="fr" dir="ltr">' in french
    assert "Exporter en CSV" in french and "Se déconnecter" in french and "Tout état" in french
    arabic = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert '<html lang="ar" dir="rtl">' in arabic and "تسجيل الخروج" in arabic
    overview = client.get("/dashboard/overview/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "<h1>Vue d’ensemble</h1>" in overview and "Réglages de l’établissement" in overview
    english = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="en" dir="ltr">' in english and "Export CSV" in english


def test_the_language_menu_keeps_the_choice(client, tenant_a):
    client.force_login(tenant_a.admin)
    response = client.post("/i18n/setlang/", {"language": "ar", "next": "/dashboard/"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert '<html lang="ar" dir="rtl">' in client.get("/dashboard/").content.decode()
