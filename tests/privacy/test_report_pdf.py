"""The session report as PDF: rendered from a seeded session, turned into PNG pages, its text
checked for every section and flag, its evidence images embedded (poppler-utils reads it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

from sessions.models import Flag
from sessions.report_pdf import session_report_pdf
from tests.conftest import require
from tests.privacy.seed import seed_candidate

SECTIONS = [
    "Session report",
    "Candidate",
    "Assessment",
    "Trust score",
    "Verdict and reviewer notes",
    "Flags",
    "Timeline",
    "Audit trail",
]


@pytest.fixture
def poppler():
    require(
        shutil.which("pdftoppm") is not None, "poppler-utils is not installed (apt-get install poppler-utils)"
    )


def _text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def _images(pdf: Path) -> list[list[str]]:
    listing = subprocess.run(
        ["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True
    ).stdout
    return [line.split() for line in listing.splitlines()[2:] if line.strip()]


def test_the_pdf_report_has_every_section_the_flags_and_their_evidence(tenant_a, tmp_path, poppler):
    seeded = seed_candidate(tenant_a, "QZPDFX", seed=7)
    session = seeded.sessions[0]
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(session_report_pdf(session=session))
    assert pdf.read_bytes()[:5] == b"%PDF-"

    subprocess.run(["pdftoppm", "-png", "-r", "70", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert pages and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pages)

    text = _text(pdf)
    lines = [line.strip() for line in text.splitlines()]
    for heading in SECTIONS:
        assert heading in lines, f"no {heading!r} heading in the PDF"
    assert f"Ada{seeded.token}" in text and seeded.candidate.email in text
    assert session.assessment.external_id in text and str(session.public_id) in text
    assert "72.5" in text and "Needs review" in text  # the score and its band (sessions.scorecard)
    assert "FACE_ABSENCE" in text and "−27.5" in text  # the breakdown row
    assert "Suspicious" in text and f"Notes about {seeded.token}" in text  # verdict and notes
    for flag in Flag.objects.filter(session=session):
        assert flag.type in text
    assert f"Reason {seeded.token}" in text  # the dismissal, in the flags and the audit trail
    assert "TAB_FOCUS_CHANGE" in text  # a browser signal in the timeline
    assert "Accommodation" in lines and f"Reads slowly ({seeded.token})" in text and "600 s" in text
    assert "reviewer@alphauniversity.test" in text and "Verdict recorded" in text
    # The evidence frame (160×120) and the candidate's reference photo (64×48) are embedded images.
    sizes = {(int(row[3]), int(row[4])) for row in _images(pdf)}
    assert (160, 120) in sizes and (64, 48) in sizes


def test_the_report_is_in_english_whatever_the_reviewers_pages_are_in(tenant_a, tmp_path, poppler):
    # The template is English: a reviewer reading French pages gets the report's dates, numbers and
    # band labels in English too, never "72,5" beside "Trust score".
    seeded = seed_candidate(tenant_a, "QZFRX", seed=7)
    pdf = tmp_path / "report.pdf"
    with translation.override("fr"):
        pdf.write_bytes(session_report_pdf(session=seeded.sessions[0]))
        assert translation.get_language() == "fr"
    text = _text(pdf)
    assert "72.5" in text and "72,5" not in text
    assert "Needs review" in text and "À examiner" not in text
    generated = next(line for line in text.splitlines() if "generated" in line)
    assert re.search(r"generated \d{1,2} [A-Z][a-z]{2} \d{4}", generated), generated
    assert "Déc" not in generated and "déc" not in generated


def test_an_arabic_name_is_rendered_as_text(tenant_a, tmp_path, poppler):
    seeded = seed_candidate(tenant_a, "QZARX", seed=8)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(session_report_pdf(session=seeded.sessions[0]))
    fonts = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert "DejaVu" in fonts
    assert "نور" in _text(pdf)
