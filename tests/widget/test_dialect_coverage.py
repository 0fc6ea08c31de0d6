"""docs/widget.md's "Dialect coverage" tables, sessions.dialects and the widget's code agree."""

import re
from pathlib import Path

from proctorme.flag_types import FLAG_TYPES
from sessions import dialects
from sessions.config import EYE_REQUIRED, TRACKING_DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "static" / "proctorme" / "src"
DOC = (ROOT / "docs" / "widget.md").read_text(encoding="utf-8")


def _js(name: str) -> str:
    return (SRC / name).read_text(encoding="utf-8")


def _js_object_keys(source: str, variable: str) -> set[str]:
    body = re.search(rf"var {variable} = \{{(.*?)\n\}};", source, re.S)
    assert body, f"{variable} not found"
    return set(re.findall(r"^\s+(\w+):", body.group(1), re.M))


def _names(items, *, built: bool = True) -> set[str]:
    return {item.name for item in items if not built or item.status != dialects.NOT_BUILT}


def test_the_doc_prints_the_registry_exactly():
    block = re.search(r"<!-- coverage:start -->\n(.*?)<!-- coverage:end -->", DOC, re.S)
    assert block, "docs/widget.md lacks the coverage block"
    assert block.group(1).strip() == dialects.coverage_markdown().strip(), (
        "docs/widget.md and sessions/dialects.py disagree: paste dialects.coverage_markdown() into the block"
    )


def test_tracking_options_the_code_reads_are_the_built_ones():
    # The widget gets its defaults from the server's contract (sessions/config.py).
    assert "WIDGET_CONTRACT.trackingDefaults" in _js("contract.js")
    source = "".join(path.read_text(encoding="utf-8") for path in sorted(SRC.glob("*.js")))
    read = set(re.findall(r"\btracking\.(\w+)", source))
    js = set(TRACKING_DEFAULTS) | read
    listed = {item.name: item.status for item in dialects.AUTOPROCTOR_TRACKING}
    assert js <= set(listed), f"read by the widget but not in the table: {js - set(listed)}"
    # What the code does not read can only be listed as not built (an unknown key is ignored).
    unread_but_claimed = {n for n, st in listed.items() if n not in js and st != dialects.NOT_BUILT}
    assert not unread_but_claimed


def test_report_options_are_the_widgets_defaults():
    assert _js_object_keys(_js("report.js"), "AP_REPORT_DEFAULTS") == _names(
        dialects.AUTOPROCTOR_REPORT_OPTIONS, built=False
    )


def test_window_events_listed_as_built_are_the_ones_the_widget_dispatches():
    source = "".join(path.read_text(encoding="utf-8") for path in sorted(SRC.glob("*.js")))
    dispatched = set(re.findall(r'dispatch(?:AfterSettling)?\("(ap\w+)"', source))
    assert dispatched == _names(dialects.AUTOPROCTOR_EVENTS)


def test_methods_and_properties_exist_on_the_autoproctor_object():
    source = _js("autoproctor.js") + _js("report.js")
    defined = set(re.findall(r"AutoProctor\.prototype\.([a-zA-Z]\w*) = function", source))
    defined |= set(re.findall(r"\bthis\.([a-zA-Z]\w*) = ", _js("autoproctor.js")))
    assert _names(dialects.AUTOPROCTOR_METHODS) <= defined
    public_methods = {name for name in defined if not name.startswith("_")} & set(
        re.findall(r"AutoProctor\.prototype\.([a-zA-Z]\w*) = function", source)
    )
    assert public_methods <= _names(dialects.AUTOPROCTOR_METHODS), "a public method is missing from the table"


def test_eye_config_and_events_match_the_code():
    assert "WIDGET_CONTRACT.eyeRequired" in _js("contract.js")
    assert set(EYE_REQUIRED) <= _names(dialects.EYE_CONFIG)
    assert _names(dialects.EYE_EVENTS) == set(FLAG_TYPES)


def test_the_legacy_api_table_matches_legacy_js():
    source = _js("legacy.js")
    mapped = _js_object_keys(source, "LEGACY_TRACKING")
    events = set(re.findall(r":\s*\"(\w+)\"", re.search(r"var LEGACY_EVENTS = \{(.*?)\};", source).group(1)))
    listed = {item.name: item.status for item in dialects.AUTOPROCTOR_LEGACY}
    assert mapped <= set(listed)
    assert events == {
        name for name, status in listed.items() if name.startswith("ap") and status != dialects.NOT_BUILT
    }
    assert "function initAutoProctor(settings)" in source and "window.initAutoProctor" in _js("globals.js")
