from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.episodes import Episode, Observation, episodes

observation = st.builds(
    Observation,
    t=st.integers(0, 200).map(lambda i: i / 2),
    active=st.booleans(),
    ref=st.integers(0, 5).map(lambda i: f"f{i}"),
    value=st.integers(0, 3).map(float),
)
params = st.tuples(st.sampled_from([0.0, 1.0, 3.0, 10.0]), st.sampled_from([0.0, 0.5, 1.0, 2.5]))


@settings(max_examples=300, deadline=None)
@given(st.lists(observation, max_size=80), params, st.randoms(use_true_random=False))
def test_result_depends_only_on_the_set_of_observations(obs, p, rnd):
    min_duration, max_gap = p
    expected = episodes(obs, min_duration=min_duration, max_gap=max_gap)
    shuffled = obs + rnd.sample(obs, k=len(obs) // 2)  # duplicates
    rnd.shuffle(shuffled)
    assert episodes(shuffled, min_duration=min_duration, max_gap=max_gap) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(observation, max_size=80), params)
def test_episodes_respect_min_duration_and_max_gap(obs, p):
    min_duration, max_gap = p
    found = episodes(obs, min_duration=min_duration, max_gap=max_gap)
    active_times = sorted({o.t for o in obs if o.active})
    last_t = max((o.t for o in obs), default=0)
    for ep in found:
        assert ep.end - ep.start >= min_duration
        inside = [t for t in active_times if ep.start <= t <= ep.end]
        assert inside[0] == ep.start and inside[-1] == ep.end and len(inside) == ep.samples
        assert all(b - a <= max_gap for a, b in zip(inside, inside[1:], strict=False))
        # maximal: the neighbouring active samples are further than max_gap away
        before = [t for t in active_times if t < ep.start]
        after = [t for t in active_times if t > ep.end]
        assert not before or ep.start - before[-1] > max_gap
        assert not after or after[0] - ep.end > max_gap
        assert ep.open == (last_t < ep.end + max_gap)
        assert ep.start <= ep.evidence_t <= ep.end
    for a, b in zip(found, found[1:], strict=False):
        assert b.start - a.end > max_gap


def _series(pattern: str, step: float = 1.0) -> list[Observation]:
    """'1' active, '0' inactive, '.' no sample."""
    return [Observation(i * step, c == "1", f"frame{i}") for i, c in enumerate(pattern) if c != "."]


def test_a_single_missed_sample_does_not_split_an_episode():
    found = episodes(_series("0111101111000000"), min_duration=3, max_gap=2)
    assert [(e.start, e.end, e.open) for e in found] == [(1.0, 9.0, False)]
    found = episodes(_series("01111.1111000000"), min_duration=3, max_gap=2)
    assert [(e.start, e.end) for e in found] == [(1.0, 9.0)]


def test_a_long_enough_pause_splits_it():
    found = episodes(_series("01111000111100000"), min_duration=3, max_gap=2)
    assert [(e.start, e.end) for e in found] == [(1.0, 4.0), (8.0, 11.0)]


def test_short_runs_are_not_episodes():
    assert episodes(_series("0110000110000"), min_duration=3, max_gap=1) == []


def test_an_episode_at_the_end_of_the_data_is_open_until_max_gap_has_passed():
    assert episodes(_series("00011111"), min_duration=3, max_gap=2)[0].open
    assert episodes(_series("000111110"), min_duration=3, max_gap=2)[0].open
    assert not episodes(_series("0001111100"), min_duration=3, max_gap=2)[0].open


def test_evidence_is_the_sample_nearest_the_middle_and_peak_the_largest_value():
    obs = [Observation(t, True, f"frame{t}", value=t % 3) for t in range(10, 21)]
    (ep,) = episodes(obs, min_duration=1, max_gap=1)
    assert isinstance(ep, Episode)
    assert ep.evidence_ref == "frame15" and ep.evidence_t == 15 and ep.peak == 2 and ep.samples == 11
    # a tie between two samples goes to the earlier one
    (ep,) = episodes([(0.0, True, "a"), (1.0, True, "b"), (0.5, False, "c")], min_duration=0, max_gap=1)
    assert ep.evidence_ref == "a"


def test_tuples_and_same_instant_conflicts():
    # the same instant reported active by one batch and inactive by another counts as active
    obs = [(0.0, True, "x"), (1.0, False, "y"), (1.0, True, "z"), (2.0, True, "w")]
    assert episodes(obs, min_duration=2, max_gap=1)[0].samples == 3
    assert episodes([], min_duration=1, max_gap=1) == []
    random.shuffle(obs)
    assert episodes(obs, min_duration=2, max_gap=1)[0].samples == 3


def test_negative_parameters_are_refused():
    with pytest.raises(ValueError):
        episodes([], min_duration=-1, max_gap=1)


def test_a_short_run_before_a_long_one_does_not_hide_it():
    found = episodes(_series("0110000011110000"), min_duration=3, max_gap=1)
    assert [(e.start, e.end) for e in found] == [(8.0, 11.0)]


def test_same_instant_evidence_goes_to_the_smaller_ref():
    # two active observations at the middle instant: the smaller str(ref) is the evidence, in any order
    for obs in (
        [(0.0, True, "a"), (1.0, True, "m2"), (1.0, True, "m1"), (2.0, True, "z")],
        [(2.0, True, "z"), (1.0, True, "m1"), (1.0, True, "m2"), (0.0, True, "a")],
    ):
        (ep,) = episodes(obs, min_duration=0, max_gap=1)
        assert ep.evidence_ref == "m1" and ep.evidence_t == 1.0


def test_negative_parameters_are_refused_with_their_reason():
    for kwargs in ({"min_duration": -1, "max_gap": 1}, {"min_duration": 1, "max_gap": -0.5}):
        with pytest.raises(ValueError, match=r"^min_duration and max_gap must be >= 0$"):
            episodes([], **kwargs)


def test_a_run_exactly_min_duration_long_is_an_episode_and_a_hair_shorter_is_not():
    exact = [(0.0, True, "a"), (1.5, True, "b"), (3.0, True, "c")]
    assert [(e.start, e.end) for e in episodes(exact, min_duration=3, max_gap=2)] == [(0.0, 3.0)]
    short = [(0.0, True, "a"), (1.5, True, "b"), (2.999, True, "c")]
    assert episodes(short, min_duration=3, max_gap=2) == []
    # with no minimum a single active sample is an episode of length 0
    (ep,) = episodes([(5.0, True, "x"), (9.0, False, "y")], min_duration=0, max_gap=1)
    assert (ep.start, ep.end, ep.samples, ep.evidence_ref, ep.open) == (5.0, 5.0, 1, "x", False)


def test_a_gap_of_exactly_max_gap_joins_and_a_hair_more_splits():
    joined = [(0.0, True, "a"), (1.0, True, "b"), (3.0, True, "c"), (4.0, True, "d")]
    assert [(e.start, e.end, e.samples) for e in episodes(joined, min_duration=1, max_gap=2)] == [
        (0.0, 4.0, 4)
    ]
    split = [(0.0, True, "a"), (1.0, True, "b"), (3.001, True, "c"), (4.001, True, "d")]
    assert [(e.start, e.end) for e in episodes(split, min_duration=1, max_gap=2)] == [
        (0.0, 1.0),
        (3.001, 4.001),
    ]
    # with max_gap 0 only observations at the same instant join
    same = [(0.0, True, "a"), (0.0, True, "b"), (0.5, True, "c")]
    assert [(e.start, e.end) for e in episodes(same, min_duration=0, max_gap=0)] == [(0.0, 0.0), (0.5, 0.5)]


def test_an_episode_is_open_until_an_observation_at_end_plus_max_gap_is_seen():
    run = [(0.0, True, "a"), (1.0, True, "b"), (2.0, True, "c")]
    assert episodes([*run, (3.999, False, "d")], min_duration=2, max_gap=2)[0].open
    assert not episodes([*run, (4.0, False, "d")], min_duration=2, max_gap=2)[0].open
