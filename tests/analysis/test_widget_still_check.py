"""The widget's still check (capture.js frameThumbnail / frameChange) computes what
the server's does (analysis.frames._thumbnail / frame_change), so a threshold
chosen on the tune half with the Python one means the same in the browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analysis.frames import _thumbnail, frame_change
from tests.analysis import material

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "static" / "proctorme" / "src" / "capture.js"


def _function(source: str, name: str) -> str:
    start = source.index(f"function {name}(")
    end = re.compile(r"^}\n", re.M).search(source, start).end()
    return source[start:end]


def _in_node(rgba: list[np.ndarray], width: int, height: int, tmp: Path) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    source = CAPTURE.read_text()
    script = "\n".join(
        [
            _function(source, "frameThumbnail"),
            _function(source, "quantile"),
            _function(source, "frameChange"),
            f"var frames = JSON.parse(require('fs').readFileSync({json.dumps(str(tmp / 'frames.json'))}, 'utf8'));",
            f"var thumbs = frames.map(function (f) {{ return frameThumbnail(f, {width}, {height}); }});",
            "var out = { thumbs: thumbs.map(function (t) { return Array.from(t); }), changes: [] };",
            "for (var i = 1; i < thumbs.length; i++) out.changes.push(frameChange(thumbs[0], thumbs[i]));",
            "console.log(JSON.stringify(out));",
        ]
    )
    (tmp / "check.js").write_text(script)
    (tmp / "frames.json").write_text(json.dumps([f.ravel().tolist() for f in rgba]))
    done = subprocess.run([node, str(tmp / "check.js")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_widget_and_server_measure_the_same_change(tmp_path):
    stream = material.webcam_stream((("still", 1), ("two", 1), ("absent", 1)), seed=2)
    views = [f.image for f in stream]
    rng = np.random.default_rng(3)
    views.insert(1, np.clip(views[0] + rng.normal(0, 2, views[0].shape), 0, 255).astype(np.uint8))
    dimmer = np.clip(views[0].astype(np.float32) * 0.96 - 3 + rng.normal(0, 2, views[0].shape), 0, 255)
    views.append(dimmer.astype(np.uint8))
    h, w = views[0].shape[:2]
    rgba = [np.dstack([v, np.full((h, w), 255, np.uint8)]) for v in views]
    out = _in_node(rgba, w, h, tmp_path)
    for view, thumb in zip(views, out["thumbs"], strict=True):
        # Box means in floating point against OpenCV's (grey and means rounded to whole levels).
        assert np.abs(np.asarray(thumb).reshape(24, 32) - _thumbnail(view)).max() <= 1.0
    server = [frame_change(_thumbnail(views[0]), _thumbnail(v)) for v in views[1:]]
    assert np.allclose(out["changes"], server, atol=1.0)
    still, two, absent, exposure = out["changes"]
    threshold = float(re.search(r"stillThreshold:\s*([0-9.]+)", CAPTURE.read_text()).group(1))
    assert still < threshold and exposure < threshold  # noise and exposure: not sent
    assert two > threshold and absent > threshold  # someone arriving, the candidate leaving: sent
