"""One registry of error codes (proctorme.errors), and the docs tables held to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctorme.errors import REGISTRY, ProctormeError, error_body

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _table_rows(path: Path, header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header line is ``header``, cells stripped of backticks."""
    lines = path.read_text().splitlines()
    start = lines.index(header) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return rows


def test_the_errors_doc_lists_every_registered_code_with_its_status_surfaces_and_meaning():
    documented = {
        code: (None if status == "—" else int(status), tuple(where.split(", ")), meaning)
        for code, status, where, meaning in _table_rows(
            DOCS / "errors.md", "| code | HTTP | where | meaning |"
        )
    }
    registered = {e.code: (e.status, e.surfaces, e.meaning) for e in REGISTRY.values()}
    assert documented == registered


def test_the_api_doc_gives_each_code_the_registered_status():
    rows = _table_rows(DOCS / "api.md", "| HTTP | code | when |")
    assert rows, "docs/api.md has no errors table"
    for status, code, _ in rows:
        assert code in REGISTRY, f"docs/api.md documents {code}, which is not registered"
        assert REGISTRY[code].status == int(status), code
        assert "api" in REGISTRY[code].surfaces, code


def test_the_api_doc_lists_every_code_the_api_answers_with():
    documented = {code for _, code, _ in _table_rows(DOCS / "api.md", "| HTTP | code | when |")}
    answered = {e.code for e in REGISTRY.values() if "api" in e.surfaces and e.code != "ERROR"}
    assert answered <= documented


def test_an_error_class_with_an_unregistered_code_cannot_be_defined():
    with pytest.raises(KeyError, match="NOT_A_REAL_CODE"):

        class Invented(ProctormeError):
            code = "NOT_A_REAL_CODE"


def test_an_unregistered_code_cannot_be_raised_or_answered():
    with pytest.raises(KeyError):
        ProctormeError("nope", code="MADE_UP_HERE")
    with pytest.raises(KeyError):
        error_body("MADE_UP_HERE", "nope")


def test_an_error_takes_its_status_and_default_message_from_the_registry():
    from proctorme.errors import DomainNotRegistered
    from sessions.uploads import MediaTooLarge

    error = DomainNotRegistered()
    assert (error.status, error.message) == (403, REGISTRY["DOMAIN_NOT_REGISTERED"].meaning)
    assert MediaTooLarge("too big").status == 413
