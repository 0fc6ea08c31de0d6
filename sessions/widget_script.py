"""The widget script, assembled from its source modules without a build step.

static/proctorme/src/ holds the widget as plain script modules that share one
scope: each names what it uses from the others in ``/* global */`` and what it
gives them in ``/* exported */`` (checked by eslint, CONTRIBUTING.md). This
module concatenates them,
in the order below, inside the one IIFE that the page loads as /widget.js. Order
matters only for code that runs while the script loads (``var`` initialisers,
the window globals, the capture layer registering itself); functions and
prototype methods may be used from any module.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from functools import cached_property, lru_cache
from pathlib import Path

import rjsmin
from django.conf import settings

from sessions.config import widget_contract

# Load order. contract: the config/error contract shared with sessions/config.py;
# i18n: the candidate's language; base: server location and helpers; media:
# camera/microphone access; screen: screen sharing (captureSwitchedTab); ui: styles, consent, badge, system check; core: the
# engine both dialects share; transport: session start/resume, outbox, WebSocket;
# intervention: a proctor's messages, pause/resume, more time, candidate warnings;
# signals: focus, fullscreen, screens, clipboard, network; eye/autoproctor: the two
# SDK dialects; aux: AutoProctor's photo-ID step and paired phone; report: AutoProctor's showReport(); legacy: its older
# initAutoProctor(); globals: window names; capture: frames, snapshots and audio
# uploads (registers itself as a capture hook).
WIDGET_MODULES: tuple[str, ...] = (
    "contract.js",
    "i18n.js",
    "base.js",
    "media.js",
    "screen.js",
    "ui.js",
    "core.js",
    "transport.js",
    "intervention.js",
    "signals.js",
    "eye.js",
    "autoproctor.js",
    "aux.js",
    "report.js",
    "legacy.js",
    "globals.js",
    "capture.js",
)

_PRELUDE = """/*!
 * Proctorme widget — one script, two SDK dialects.
 *
 *   Eye by Proctorme:  const widget = await LoadProctormeWidget();   // or LoadEyeWidget()
 *                      widget.on("STARTED", cb); await widget.init(config); await widget.endProctoring();
 *   AutoProctor:       const ap = new AutoProctor({clientId, testAttemptId, hashedTestAttemptId});
 *                      await ap.setup(options); await ap.start(); await ap.stop(); ap.destroy();
 *
 * Both dialects share one core (ProctorCore): session start/resume, consent, system check,
 * camera/microphone, browser signals over a resumable WebSocket, flags, end. The wire
 * contract is docs/widget-protocol.md; the integrator documentation is docs/widget.md.
 * Plain modern JavaScript, no dependencies; assembled from static/proctorme/src/.
 */
(function () {
"use strict";

if (window.Proctorme && window.Proctorme.version) return; // loaded twice: keep the first

// Required fields, limits and defaults, written by the server from sessions/config.py.
var WIDGET_CONTRACT = %s;

"""
_EPILOGUE = "})();\n"


class WidgetBuild:
    """One build of the widget: the readable script (canonical) and its minified form.

    ``build`` ("1.0.0-3f2a…") names it in immutable URLs: the release in contract.js's
    VERSION and the first 12 hex digits of the readable script's SHA-256, so a URL can
    only ever serve the bytes it was first published with.
    """

    def __init__(self, source: bytes) -> None:
        self.source = source
        digest = hashlib.sha256(source).hexdigest()
        self.version = digest[:16]  # the ETag and /widget.js?v= of this build
        found = _VERSION_RE.search(source)
        self.release = found.group(1).decode() if found else "0.0.0"
        self.build = f"{self.release}-{digest[:12]}"
        self._gzipped: dict[bool, bytes] = {}

    @cached_property
    def minified(self) -> bytes:
        return rjsmin.jsmin(self.source.decode("utf-8"), keep_bang_comments=True).encode("utf-8")

    def body(self, *, minified: bool, gzipped: bool) -> bytes:
        content = self.minified if minified else self.source
        if not gzipped:
            return content
        if minified not in self._gzipped:  # a race only compresses twice
            self._gzipped[minified] = gzip.compress(content, compresslevel=9, mtime=0)
        return self._gzipped[minified]

    def integrity(self, *, minified: bool) -> str:
        """The Subresource Integrity value of the uncompressed script."""
        content = self.minified if minified else self.source
        return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


_VERSION_RE = re.compile(rb'^var VERSION = "([0-9A-Za-z.+-]+)";$', re.M)
BUILD_RE = r"[0-9][0-9A-Za-z.+]*-[0-9a-f]{12}"


def widget_source_dir() -> Path:
    return Path(settings.BASE_DIR) / "static" / "proctorme" / "src"


def widget_releases_dir() -> Path:
    """Frozen earlier builds (``<build>.js``), kept so that pinned URLs keep working."""
    return Path(settings.BASE_DIR) / "static" / "proctorme" / "releases"


def widget_script() -> WidgetBuild:
    """The current build, assembled from the sources; rebuilt when a module changes (a stat each)."""
    directory = widget_source_dir()
    stamps = tuple((name, (directory / name).stat().st_mtime_ns) for name in WIDGET_MODULES)
    return _assemble(str(directory), stamps)


@lru_cache(maxsize=4)
def _assemble(directory: str, stamps: tuple[tuple[str, int], ...]) -> WidgetBuild:
    parts = [_PRELUDE % json.dumps(widget_contract(), indent=2)]
    for name, _ in stamps:
        text = (Path(directory) / name).read_text(encoding="utf-8")
        parts.append(f"// ---- src/{name}\n{text.rstrip()}\n\n")
    parts.append(_EPILOGUE)
    return WidgetBuild("".join(parts).encode("utf-8"))


@lru_cache(maxsize=32)
def _release(path: str, mtime_ns: int) -> WidgetBuild:
    return WidgetBuild(Path(path).read_bytes())


def widget_builds() -> dict[str, WidgetBuild]:
    """Every build this server serves: the frozen releases and the current one."""
    builds = {}
    directory = widget_releases_dir()
    if directory.is_dir():
        for path in sorted(directory.glob("*.js")):
            release = _release(str(path), path.stat().st_mtime_ns)
            builds[release.build] = release
    current = widget_script()
    builds[current.build] = current
    return builds


def widget_release_freeze() -> Path:
    """Keep the current build under static/proctorme/releases/ (commit it when you publish)."""
    current = widget_script()
    directory = widget_releases_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{current.build}.js"
    path.write_bytes(current.source)
    return path


def widget_manifest(*, base_url: str) -> dict:
    """Each build's immutable URLs with their SRI hashes; ``latest`` is the current build."""
    current = widget_script()
    entries = []
    for build in widget_builds().values():
        prefix = f"{base_url}/widget/{build.build}"
        entries.append(
            {
                "build": build.build,
                "release": build.release,
                "url": f"{prefix}/widget.min.js",
                "integrity": build.integrity(minified=True),
                "sourceUrl": f"{prefix}/widget.js",
                "sourceIntegrity": build.integrity(minified=False),
                "bytes": len(build.minified),
                "gzipBytes": len(build.body(minified=True, gzipped=True)),
            }
        )
    return {"latest": current.build, "builds": entries}
