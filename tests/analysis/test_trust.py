from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.trust import DEFAULT_WEIGHTS, FlagInput, TrustResult, Weight, band_for, trust_score

VIOLATIONS = sorted(DEFAULT_WEIGHTS)
HARMLESS = ["PERIODIC_SNAPSHOT", "TAB_FOCUS_CHANGE", "FULLSCREEN_CHANGE", "SOMETHING_NEW"]

flag = st.builds(
    FlagInput,
    type=st.sampled_from(VIOLATIONS + HARMLESS),
    duration_s=st.floats(0, 3600, allow_nan=False, allow_infinity=False),
)
flags = st.lists(flag, max_size=40)
exam = st.floats(0, 6 * 3600, allow_nan=False, allow_infinity=False)


def _tenths(result: TrustResult) -> int:
    return sum(round(b["deduction"] * 10) for b in result.breakdown.values())


@settings(max_examples=400, deadline=None)
@given(flags, exam)
def test_score_is_bounded_banded_and_explained(fs, seconds):
    r = trust_score(fs, exam_seconds=seconds)
    assert 0.0 <= r.score <= 100.0 and r.score == round(r.score, 1)
    assert r.band == band_for(r.score)
    assert _tenths(r) == 1000 - round(r.score * 10)
    assert all(b["deduction"] >= 0 for b in r.breakdown.values())
    assert set(r.breakdown) <= set(VIOLATIONS)


@settings(max_examples=400, deadline=None)
@given(flags, flag, exam)
def test_another_flag_never_raises_the_score(fs, extra, seconds):
    assert (
        trust_score(fs + [extra], exam_seconds=seconds).score <= trust_score(fs, exam_seconds=seconds).score
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(flag, min_size=1, max_size=40), st.integers(0, 39), st.floats(0, 600), exam)
def test_a_longer_flag_never_raises_the_score(fs, i, more, seconds):
    i %= len(fs)
    longer = list(fs)
    longer[i] = FlagInput(fs[i].type, fs[i].duration_s + more)
    assert trust_score(longer, exam_seconds=seconds).score <= trust_score(fs, exam_seconds=seconds).score


@settings(max_examples=200, deadline=None)
@given(
    flags, st.lists(st.builds(FlagInput, type=st.sampled_from(HARMLESS), duration_s=st.floats(0, 600))), exam
)
def test_snapshots_and_state_events_never_lower_it(fs, harmless, seconds):
    assert trust_score(fs + harmless, exam_seconds=seconds) == trust_score(fs, exam_seconds=seconds)


@settings(max_examples=200, deadline=None)
@given(flags, st.sets(st.sampled_from(VIOLATIONS)), exam)
def test_disabled_types_are_ignored(fs, off, seconds):
    r = trust_score(fs, exam_seconds=seconds, disabled=off)
    kept = [f for f in fs if f.type not in off]
    assert r == trust_score(kept, exam_seconds=seconds)
    assert not set(r.breakdown) & off


@settings(max_examples=200, deadline=None)
@given(flags, st.integers(1, 6))
def test_the_same_behaviour_rate_gives_the_same_score_in_a_longer_exam(fs, k):
    one_hour = trust_score(fs, exam_seconds=3600)
    longer = trust_score(fs * k, exam_seconds=3600 * k)
    assert longer.score == pytest.approx(one_hour.score, abs=0.11)


@settings(max_examples=100, deadline=None)
@given(flags, exam)
def test_it_is_reproducible_and_order_free(fs, seconds):
    assert trust_score(fs, exam_seconds=seconds) == trust_score(list(reversed(fs)), exam_seconds=seconds)


def test_a_clean_session_scores_100_low_risk():
    r = trust_score([FlagInput("PERIODIC_SNAPSHOT")] * 50, exam_seconds=3600)
    assert (r.score, r.band, r.breakdown) == (100.0, "low", {})


def test_worked_example_from_the_docstring():
    fs = [FlagInput("TAB_NOT_FOCUS", 15), FlagInput("TAB_NOT_FOCUS", 25), FlagInput("MULTIPLE_FACE", 20)]
    r = trust_score(fs, exam_seconds=3600)
    assert (r.score, r.band) == (72.4, "review")
    assert r.breakdown["TAB_NOT_FOCUS"] == {"count": 2, "seconds": 40.0, "deduction": 7.8}
    assert r.breakdown["MULTIPLE_FACE"]["deduction"] == 19.8
    assert trust_score(fs, exam_seconds=7200).score == 85.0


def test_bands():
    assert [band_for(s) for s in (100, 85, 84.9, 60, 59.9, 0)] == [
        "low",
        "low",
        "review",
        "review",
        "high",
        "high",
    ]


def test_weights_are_configurable_per_type():
    fs = [FlagInput("COPY_PASTE")] * 3
    default = trust_score(fs, exam_seconds=3600)
    harsher = trust_score(fs, exam_seconds=3600, weights={"COPY_PASTE": Weight(cap=90, per_event=2.0)})
    assert harsher.score < default.score
    custom = trust_score(
        [FlagInput("MY_TYPE")], exam_seconds=3600, weights={"MY_TYPE": Weight(cap=10, per_event=1)}
    )
    assert custom.score == pytest.approx(100 - 10 * (1 - math.exp(-1)), abs=0.05)
    assert trust_score(fs, exam_seconds=3600, weights={"COPY_PASTE": Weight(cap=0, per_event=1)}).score == 100


def test_everything_at_once_floors_at_zero_and_still_adds_up():
    fs = [FlagInput(t, 600) for t in VIOLATIONS] * 20
    r = trust_score(fs, exam_seconds=3600)
    assert r.score == 0.0 and r.band == "high" and _tenths(r) == 1000


@pytest.mark.parametrize(
    "bad", [{"cap": -1, "per_event": 0}, {"cap": 101, "per_event": 0}, {"cap": 1, "per_event": math.nan}]
)
def test_invalid_weights_are_refused(bad):
    with pytest.raises(ValueError):
        Weight(**bad)


def test_invalid_inputs_are_refused():
    with pytest.raises(ValueError):
        trust_score([FlagInput("COPY_PASTE", -1)], exam_seconds=60)
    with pytest.raises(ValueError):
        trust_score([], exam_seconds=math.inf)


def test_a_weight_may_cap_at_exactly_100_and_not_above_and_says_why():
    assert Weight(cap=100, per_event=1).cap == 100
    with pytest.raises(ValueError, match=r"^Weight\.cap must be <= 100$"):
        Weight(cap=100.5, per_event=1)
    with pytest.raises(ValueError, match=r"^Weight\.per_event must be a finite number >= 0, got -1$"):
        Weight(cap=10, per_event=-1)


def test_a_bad_exam_length_is_refused_with_its_reason():
    with pytest.raises(ValueError, match=r"^exam_seconds must be a finite number >= 0$"):
        trust_score([], exam_seconds=-1)
