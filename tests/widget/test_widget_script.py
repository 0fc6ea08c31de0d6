"""/widget.js is the source modules of static/proctorme/src/, in their load order."""

from sessions.widget_script import WIDGET_MODULES, widget_script, widget_source_dir


def test_every_source_module_is_served_once_in_order(client):
    on_disk = sorted(path.name for path in widget_source_dir().glob("*.js"))
    assert sorted(WIDGET_MODULES) == on_disk
    served = client.get("/widget.js").content.decode()
    positions = []
    for name in WIDGET_MODULES:
        text = (widget_source_dir() / name).read_text().rstrip()
        assert served.count(text) == 1, name
        positions.append(served.index(text))
    assert positions == sorted(positions)
    assert served.rstrip().endswith("})();")


def test_a_changed_module_changes_the_script_and_its_version(settings, tmp_path):
    source = tmp_path / "static" / "proctorme" / "src"
    source.mkdir(parents=True)
    for name in WIDGET_MODULES:
        (source / name).write_text((widget_source_dir() / name).read_text())
    settings.BASE_DIR = tmp_path
    before = widget_script()
    (source / "globals.js").write_text("// changed\n", encoding="utf-8")
    after = widget_script()
    assert b"// changed" in after.content and after.version != before.version
