"""/widget.js and its builds: the source modules in load order, minified, gzipped, versioned."""

import base64
import gzip
import hashlib

from sessions.widget_script import WIDGET_MODULES, widget_script, widget_source_dir


def copy_sources(tmp_path):
    source = tmp_path / "static" / "proctorme" / "src"
    source.mkdir(parents=True)
    for name in WIDGET_MODULES:
        (source / name).write_text((widget_source_dir() / name).read_text())
    return source


def sri(content: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


def test_every_source_module_is_served_once_in_order(client):
    on_disk = sorted(path.name for path in widget_source_dir().glob("*.js"))
    assert sorted(WIDGET_MODULES) == on_disk
    build = client.get("/widget/manifest.json").json()["latest"]
    served = client.get(f"/widget/{build}/widget.js").content.decode()
    positions = []
    for name in WIDGET_MODULES:
        text = (widget_source_dir() / name).read_text().rstrip()
        assert served.count(text) == 1, name
        positions.append(served.index(text))
    assert positions == sorted(positions)
    assert served.rstrip().endswith("})();")


def test_widget_js_is_minified_and_gzipped_when_the_browser_accepts_it(client):
    readable = widget_script().source
    plain = client.get("/widget.js")
    assert plain["Content-Type"].startswith("application/javascript")
    assert len(plain.content) < 0.8 * len(readable)
    assert plain.content.startswith(b"/*!")  # the licence header survives minification
    zipped = client.get("/widget.js", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert zipped["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped["Vary"]
    assert gzip.decompress(zipped.content) == plain.content
    assert len(zipped.content) < 0.3 * len(readable)
    assert zipped["ETag"] != plain["ETag"]


def test_manifest_gives_immutable_urls_whose_bytes_match_their_integrity(client):
    manifest = client.get("/widget/manifest.json").json()
    latest = next(b for b in manifest["builds"] if b["build"] == manifest["latest"])
    assert latest["url"].startswith("http://testserver/widget/") and latest["url"].endswith("/widget.min.js")
    for url_key, integrity_key in (("url", "integrity"), ("sourceUrl", "sourceIntegrity")):
        response = client.get(latest[url_key].removeprefix("http://testserver"))
        assert response.status_code == 200
        assert response["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response["Access-Control-Allow-Origin"] == "*"
        assert sri(response.content) == latest[integrity_key]
    assert latest["release"] == manifest["latest"].split("-")[0]


def test_an_unknown_build_is_not_found(client):
    assert client.get("/widget/1.0.0-000000000000/widget.min.js").status_code == 404
    assert client.get("/widget/nonsense/widget.min.js").status_code == 404


def test_a_frozen_release_is_still_served_after_the_source_changes(client, settings, tmp_path):
    from sessions.widget_script import widget_release_freeze

    source = copy_sources(tmp_path)
    settings.BASE_DIR = tmp_path
    before = client.get("/widget/manifest.json").json()
    widget_release_freeze()
    (source / "globals.js").write_text("// changed\n", encoding="utf-8")
    after = client.get("/widget/manifest.json").json()
    assert after["latest"] != before["latest"]
    assert {b["build"] for b in after["builds"]} == {before["latest"], after["latest"]}
    old = next(b for b in after["builds"] if b["build"] == before["latest"])
    response = client.get(f"/widget/{before['latest']}/widget.min.js")
    assert sri(response.content) == old["integrity"] == before["builds"][0]["integrity"]
    assert b"// changed" not in response.content


def test_a_changed_module_changes_the_script_and_its_version(settings, tmp_path):
    source = copy_sources(tmp_path)
    settings.BASE_DIR = tmp_path
    before = widget_script()
    (source / "globals.js").write_text("// changed\n", encoding="utf-8")
    after = widget_script()
    assert b"// changed" in after.source and after.version != before.version
