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

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from sessions.config import widget_contract

# Load order. contract: the config/error contract shared with sessions/config.py;
# base: server location and helpers; media: camera/microphone access; ui: styles,
# consent, badge, system check; core: the engine both dialects share; transport:
# session start/resume, outbox, WebSocket; signals: focus, fullscreen, screens,
# clipboard, network; eye/autoproctor: the two SDK dialects; globals: window names;
# capture: frames, snapshots and audio uploads (registers itself as a capture hook).
WIDGET_MODULES: tuple[str, ...] = (
    "contract.js",
    "base.js",
    "media.js",
    "ui.js",
    "core.js",
    "transport.js",
    "signals.js",
    "eye.js",
    "autoproctor.js",
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


@dataclass(frozen=True)
class WidgetScript:
    content: bytes
    version: str  # first 16 hex digits of the content's SHA-256


def widget_source_dir() -> Path:
    return Path(settings.BASE_DIR) / "static" / "proctorme" / "src"


def widget_script() -> WidgetScript:
    """The assembled script; rebuilt when a source module changes (cheap: a stat per module)."""
    directory = widget_source_dir()
    stamps = tuple((name, (directory / name).stat().st_mtime_ns) for name in WIDGET_MODULES)
    return _assemble(str(directory), stamps)


@lru_cache(maxsize=4)
def _assemble(directory: str, stamps: tuple[tuple[str, int], ...]) -> WidgetScript:
    parts = [_PRELUDE % json.dumps(widget_contract(), indent=2)]
    for name, _ in stamps:
        text = (Path(directory) / name).read_text(encoding="utf-8")
        parts.append(f"// ---- src/{name}\n{text.rstrip()}\n\n")
    parts.append(_EPILOGUE)
    content = "".join(parts).encode("utf-8")
    return WidgetScript(content=content, version=hashlib.sha256(content).hexdigest()[:16])
