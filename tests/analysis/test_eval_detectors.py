"""The camera-blocked, looking-away and speech tables of ``make eval``
(``eval/detectors.py``): on a tiny subset they run, show the product and its
baseline from the same items, and keep the tune / report discipline."""

from __future__ import annotations

import re

import numpy as np
import pytest

from eval import corpus, detectors, eyes
from tests.analysis import material

pytestmark = pytest.mark.slow


def _rows(lines: list[str], title: str) -> dict[str, tuple[int, int, int, int]]:
    """Detector -> (TP, FP, FN, TN) from the first table under ``title``."""
    start = next(i for i, line in enumerate(lines) if line.startswith("#### " + title))
    rows = {}
    for line in lines[start + 6 :]:
        if not line.startswith("| "):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = tuple(int(c) for c in cells[1:5])
    return rows


def _support(lines: list[str], title: str) -> tuple[int, int]:
    start = next(i for i, line in enumerate(lines) if line.startswith("#### " + title))
    m = re.match(r"(\d+) .*, (\d+) ", lines[start + 2])
    assert m, lines[start + 2]
    return int(m.group(1)), int(m.group(2))


@pytest.fixture(scope="module")
def section(build):
    tune = build(lambda: corpus.load("tune", 30, cache_dir=None))
    report = build(lambda: corpus.load("report", 30, cache_dir=None))
    return build(lambda: detectors.report(tune, report, 4, eyes_per_class=3)), tune, report


def test_each_table_has_the_product_and_its_baseline_on_the_same_items(section):
    lines, _, report = section
    for title, products, baseline in (
        ("Camera blocked", ("analyse_frame", "camera_blocked alone"), "mean brightness < "),
        ("Looking away, report", ("analyse_frame", "head pose only"), "nose offset > "),
        ("Speech", ("voice_segments",), "RMS over 300 ms > "),
    ):
        rows = _rows(lines, title)
        assert len(rows) == len(products) + 1, (title, rows)
        assert all(p in rows for p in products), (title, rows)
        (base,) = [name for name in rows if name not in products]
        assert base.startswith(baseline), base
        pos, neg = _support(lines, title)
        for tp, fp, fn, tn in rows.values():
            assert (tp + fn, fp + tn) == (pos, neg), title
    # Every usable report frame once covered and once clear, a dark room for each with a face.
    usable = [f for f in report if f.condition != "darkness"]
    assert _support(lines, "Camera blocked") == (len(usable), len(usable) + sum(1 for f in usable if f.faces))
    assert _support(lines, "Speech") == (4, 4)
    # The lone real people, and three composed views with the eyes away, three with them ahead.
    lone = [f for f in report if f.faces == 1 and f.people == 1 and f.in_floor]
    pos, neg = _support(lines, "Looking away, report")
    assert (pos, neg) == (3 + sum(f.turned for f in lone), 3 + sum(not f.turned for f in lone))
    assert _support(lines, "Looking away, composed eyes") == (3, 3)
    assert any(line.startswith("**Limit**: the report half has 0 real head turns") for line in lines)


def test_composed_eyes_come_from_their_own_half_and_are_labelled_by_the_shift():
    for which in corpus.HALVES:
        names = eyes.people(which)
        assert names and all(p.half == which for p in corpus.PEOPLE if p.id in names)
        for vid, away, _cond, shift, view in eyes.views(which, 4):
            lo, hi = eyes.AWAY_SHIFTS if away else eyes.AHEAD_SHIFTS
            assert lo <= abs(shift) <= hi, (vid, shift)
            assert view.shape == (corpus.VIEW[1], corpus.VIEW[0], 3)
    # No shift between "ahead" and "away" is composed: no honest label there.
    assert eyes.AHEAD_SHIFTS[1] < eyes.AWAY_SHIFTS[0]


def test_a_lens_cap_is_blocked_and_brightness_alone_misses_a_bright_sheet():
    view = corpus.load("report", 1, cache_dir=None)[0].view
    rng = np.random.default_rng(0)
    cap = detectors.cover(view, "lens cap", rng)
    sheet = detectors.cover(view, "bright sheet", rng)
    assert cap.shape == sheet.shape == view.shape
    assert cap.mean() < 15 and sheet.mean() > 150
    # The room shows only in a strip of at most 10 % along one edge (and its soft edge).
    changed = np.abs(sheet.astype(int) - view.astype(int)).max(axis=2) > 20
    assert changed.mean() >= 0.85


def test_baseline_threshold_is_the_best_balanced_cut():
    # Scores 1, 2 negative; 3, 4 positive: the cut between them, 2.5.
    assert detectors.choose_threshold([1, 2, 3, 4], [False, False, True, True], above=True) == 2.5
    assert detectors.choose_threshold([1, 2, 3, 4], [True, True, False, False], above=False) == 2.5


def test_speech_voices_and_sentences_split_with_tuned_ones_in_tune():
    for v in material.VOICES:
        assert detectors.speech_half(v, "voice") == "tune"
    for t in material.SENTENCES:
        assert detectors.speech_half(t, "text") == "tune"
    halves = {detectors.speech_half(v, "voice") for v in detectors.VOICES}
    texts = {detectors.speech_half(t, "text") for t in detectors.SENTENCES}
    assert halves == texts == {"tune", "report"}


def test_the_loudest_300ms_of_a_clip():
    x = np.zeros(16000, np.float32)
    x[3200:8000] = 0.5  # 300 ms at half scale
    assert detectors.loudest_300ms(x) == pytest.approx(0.5 * 32767, rel=0.02)
