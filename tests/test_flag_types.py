"""One registry of flag and event types (proctorme.flag_types), and what holds the rest to it."""

from __future__ import annotations

import ast
from pathlib import Path

from analysis.trust import DEFAULT_WEIGHTS
from proctorme import flag_types
from proctorme.flag_types import BROWSER_SIGNALS, DEDUCTIBLE, FLAG_TYPES, NOT_VIOLATIONS, VIOLATIONS

ROOT = Path(__file__).resolve().parents[1]


def test_the_score_has_a_default_weight_for_exactly_the_types_it_may_deduct():
    assert set(DEFAULT_WEIGHTS) == DEDUCTIBLE


def test_random_photos_are_evidence_not_violations_and_never_deducted():
    snapshot = FLAG_TYPES["PERIODIC_SNAPSHOT"]
    assert snapshot.flag and not snapshot.violation and not snapshot.deductible
    assert "PERIODIC_SNAPSHOT" in NOT_VIOLATIONS


def test_every_violation_is_a_flag_and_every_deducted_type_a_violation():
    assert all(FLAG_TYPES[name].flag for name in VIOLATIONS)
    assert DEDUCTIBLE <= VIOLATIONS


def test_the_socket_accepts_the_browser_signals_of_the_protocol_doc():
    doc = (ROOT / "docs" / "widget-protocol.md").read_text()
    for name in BROWSER_SIGNALS:
        assert f"`{name}`" in doc, f"{name} is a browser signal the protocol doc does not name"


def test_the_trust_doc_lists_every_flag_type():
    doc = (ROOT / "docs" / "trust-score.md").read_text()
    for name in flag_types.FLAGS:
        assert f"`{name}`" in doc, name


def test_the_registry_imports_nothing_of_the_project():
    tree = ast.parse((ROOT / "proctorme" / "flag_types.py").read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "dataclasses"}
