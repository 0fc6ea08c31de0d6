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


# Exact figures, each worked out by hand from the formula in analysis/trust.py's docstring
# (e^-0.8 = 0.449329, e^-0.6 = 0.548812, e^-0.06 = 0.941765), never by calling trust_score.


def test_one_face_mismatch_in_an_hour_costs_38_5():
    # x = 0.8 * 1 * 3600/3600 = 0.8; d = 70 * (1 - 0.449329) = 38.547; score 61.453 → 61.5
    r = trust_score([FlagInput("FACE_MISMATCH")], exam_seconds=3600)
    assert (r.score, r.band) == (61.5, "review")
    assert r.breakdown == {"FACE_MISMATCH": {"count": 1, "seconds": 0.0, "deduction": 38.5}}
    # two in two hours are the same rate per exam hour
    assert trust_score([FlagInput("FACE_MISMATCH")] * 2, exam_seconds=7200).score == 61.5


@pytest.mark.parametrize("seconds", [0, 300, 599.9, 600])
def test_an_exam_under_ten_minutes_counts_as_ten(seconds):
    # per hour = 3600/600 = 6; x = 0.1 * 6 = 0.6; d = 40 * (1 - 0.548812) = 18.0475; score 81.9525 → 82.0
    r = trust_score([FlagInput("CAMERA_BLOCKED")], exam_seconds=seconds)
    assert (r.score, r.band) == (82.0, "review")
    assert r.breakdown["CAMERA_BLOCKED"]["deduction"] == 18.0


@pytest.mark.parametrize("duration", [None, 0, 0.0])
def test_a_flag_without_a_duration_counts_no_seconds(duration):
    # x = 0.06 * 1 + 0.2 * 0 = 0.06; d = 35 * (1 - 0.941765) = 2.038; score 97.962 → 98.0
    r = trust_score([FlagInput("TAB_NOT_FOCUS", duration)], exam_seconds=3600)
    assert r.score == 98.0
    assert r.breakdown == {"TAB_NOT_FOCUS": {"count": 1, "seconds": 0.0, "deduction": 2.0}}


# With per_event = 100 a type deducts its whole cap (1 - e^-100 is 1.0 in floating point).
FULL = 100.0


def test_deductions_just_over_100_are_scaled_down_to_add_up_to_100():
    # 60 + 40.5 = 100.5 > 100: each scaled by 100/100.5 → 59.7015 and 40.2985; the one tenth left
    # after the floors (597 + 402 = 999) goes to the larger remainder (B's .985)
    weights = {"A": Weight(cap=60, per_event=FULL), "B": Weight(cap=40.5, per_event=FULL)}
    r = trust_score([FlagInput("A"), FlagInput("B")], exam_seconds=3600, weights=weights)
    assert (r.score, r.band) == (0.0, "high")
    assert {k: v["deduction"] for k, v in r.breakdown.items()} == {"A": 59.7, "B": 40.3}


def test_the_tenth_left_over_goes_to_the_largest_remainder_then_to_the_first_name():
    # 10.04 + 20.08 = 30.12: score 69.88 → 69.9, so 30.1 to share; floors 10.0 + 20.0 leave one
    # tenth, which goes to B (remainder .8 against A's .4) although A comes first by name
    weights = {"A": Weight(cap=10.04, per_event=FULL), "B": Weight(cap=20.08, per_event=FULL)}
    r = trust_score([FlagInput("A"), FlagInput("B")], exam_seconds=3600, weights=weights)
    assert r.score == 69.9
    assert {k: v["deduction"] for k, v in r.breakdown.items()} == {"A": 10.0, "B": 20.1}
    # 10.25 + 20.25 = 30.5: score 69.5; equal remainders (.5): the first name gets the tenth
    weights = {"A": Weight(cap=10.25, per_event=FULL), "B": Weight(cap=20.25, per_event=FULL)}
    r = trust_score([FlagInput("B"), FlagInput("A")], exam_seconds=3600, weights=weights)
    assert r.score == 69.5
    assert {k: v["deduction"] for k, v in r.breakdown.items()} == {"A": 10.3, "B": 20.2}


@pytest.mark.parametrize(
    ("duration", "shown"), [(-1, "-1"), (math.nan, "nan"), (math.inf, "inf"), (-0.5, "-0.5")]
)
def test_a_bad_flag_duration_is_refused_with_its_reason(duration, shown):
    with pytest.raises(ValueError, match=rf"^flag duration must be a finite number >= 0, got {shown}$"):
        trust_score([FlagInput("TAB_NOT_FOCUS", duration)], exam_seconds=3600)


def test_the_breakdown_keeps_a_types_seconds_to_the_millisecond():
    # 12.3456 s → 12.346 (neither 12 nor 12.3456); x = 0.06 + 0.2 × 12.3456 / 60 = 0.101152,
    # d = 35 × (1 − e^−0.101152) = 35 × 0.096197 = 3.367; score 96.633 → 96.6
    r = trust_score([FlagInput("TAB_NOT_FOCUS", 12.3456)], exam_seconds=3600)
    assert r.score == 96.6
    assert r.breakdown == {"TAB_NOT_FOCUS": {"count": 1, "seconds": 12.346, "deduction": 3.4}}
