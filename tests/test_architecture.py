"""Rules of docs/architecture.md that the import contracts (make lint) do not cover."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("proctorme", "tenants", "sessions", "analysis")


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, ".".join(path.relative_to(ROOT).with_suffix("").parts)


def private_imports(source: str, module: str) -> list[str]:
    """``from <first-party module> import _name`` lines of ``module``, other than from itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if node.module.split(".")[0] not in PACKAGES or node.module == module:
            continue
        found += [
            f"{module} imports {node.module}.{alias.name}"
            for alias in node.names
            if alias.name.startswith("_") and not alias.name.startswith("__")
        ]
    return found


def test_no_module_imports_a_private_name_of_another():
    assert [line for path, module in _modules() for line in private_imports(path.read_text(), module)] == []


def test_the_rule_sees_private_imports_and_leaves_the_rest():
    source = "from sessions.services import _hidden, shown\nfrom django.x import _theirs\n"
    assert private_imports(source, "sessions.uploads") == [
        "sessions.uploads imports sessions.services._hidden"
    ]
    assert private_imports("from sessions.services import _own\n", "sessions.services") == []


def test_analysis_is_not_a_django_app():
    from django.conf import settings

    assert "analysis" not in settings.INSTALLED_APPS
    assert not (ROOT / "analysis" / "apps.py").exists()


def test_every_test_folder_is_a_package():
    folders = {path.parent for path in (ROOT / "tests").rglob("*.py") if "__pycache__" not in path.parts}
    assert sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists()) == []


def test_the_architecture_doc_names_every_top_level_package():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for package in PACKAGES:
        assert f"`{package}/`" in doc, package
