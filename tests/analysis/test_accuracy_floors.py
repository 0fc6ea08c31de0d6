"""``make eval`` reduced for CI: face count on the first 300 frames of the report half
(held apart: no threshold was chosen on it), raw and as the widget uploads them.

What is asserted: analyse_frame is never below the bare full-range call on the same
frames, in any cell, and it does not fall below what it reached when these floors were
set (``REGRESSION_FLOOR``, a little under the figures of that run). The target of 0.97
per class is NOT met yet on this corpus; docs/accuracy.md gives the full report half's
figures and what fails.
"""

from __future__ import annotations

import pytest

from eval import corpus
from eval.scoring import CLASS_NAMES, CLASSES, VERSIONS, score_face_counts

pytestmark = pytest.mark.slow

REPORT_FRAMES = 300
# (version, class) -> (precision, recall) floors.
REGRESSION_FLOOR = {
    ("raw", 0): (0.86, 0.98),
    ("raw", 1): (0.85, 0.90),
    ("raw", 2): (0.98, 0.72),
    ("as uploaded", 0): (0.85, 0.98),
    ("as uploaded", 1): (0.82, 0.88),
    ("as uploaded", 2): (0.98, 0.67),
}


@pytest.fixture(scope="module")
def results(build):
    frames = build(lambda: corpus.load("report", REPORT_FRAMES, cache_dir=None))
    return score_face_counts(frames)


@pytest.mark.parametrize("version", VERSIONS)
def test_face_count_is_never_below_the_bare_call(results, version):
    ours = results.confusion("analyse_frame", version)
    bare = results.confusion("bare full range", version)
    for k in CLASSES:
        assert ours.support(k) >= 50, CLASS_NAMES[k]
        assert ours.precision(k) >= bare.precision(k), (CLASS_NAMES[k], "precision")
        assert ours.recall(k) >= bare.recall(k), (CLASS_NAMES[k], "recall")


@pytest.mark.parametrize("version", VERSIONS)
def test_face_count_holds_its_regression_floors(results, version):
    ours = results.confusion("analyse_frame", version)
    for k in CLASSES:
        precision, recall = REGRESSION_FLOOR[(version, k)]
        assert ours.precision(k) >= precision, (CLASS_NAMES[k], ours.precision(k))
        assert ours.recall(k) >= recall, (CLASS_NAMES[k], ours.recall(k))


def test_a_clean_session_raises_no_face_flag():
    """``make eval``'s clean sessions reduced: one report-half candidate alone at the desk for
    six minutes (sway, exposure drift, a cup raised to the mouth, a hand on the chin, leaning
    back), frames sent as the widget sends them: no FACE_ABSENCE, MULTIPLE_FACE or LOOKING_AWAY."""
    from eval import clean_sessions

    (session,) = clean_sessions.simulate("report", minutes=6, count=1)
    assert session.events["cup"] and session.events["hand on chin"] and session.events["leaning back"]
    assert session.analysed > 0
    assert session.ours == [], session.ours
