"""The episode tracker's edges, one observation at a time: the exact minimum, the exact gap, the
end of data, replays, and what each event carries (values written out by hand)."""

from __future__ import annotations

from analysis.tracker import EpisodeTracker


def _feed(tracker: EpisodeTracker, samples) -> list[tuple[str, dict]]:
    events = []
    for t, active, *rest in samples:
        events += tracker.feed(t, active, *rest)
    return events


def test_a_run_of_exactly_the_minimum_opens_once_with_its_evidence_and_peak():
    tracker = EpisodeTracker(5.0, 2.5)
    events = _feed(tracker, [(10, True, "a", 1.0), (12.5, True, "b", 3.0), (15, True, "c", 2.0)])
    assert events == [
        ("open", {"start": 10, "end": 15, "ref": "c", "peak": 3.0, "samples": 3, "confirmed": True})
    ]


def test_a_run_just_short_of_the_minimum_opens_nothing_and_finish_drops_it():
    tracker = EpisodeTracker(5.0, 2.5)
    assert _feed(tracker, [(10, True), (12.5, True), (14.99, True)]) == []
    assert tracker.finish() == []
    assert tracker.state["run"] is None


def test_a_confirmed_run_extends_then_closes_after_more_than_the_gap():
    tracker = EpisodeTracker(2.0, 2.5)
    events = _feed(tracker, [(0, True, "a"), (2, True, "b"), (3, True, "c"), (5.5, False), (5.6, False)])
    kinds = [kind for kind, _ in events]
    assert kinds == ["open", "extend", "close"]
    closed = events[-1][1]
    assert (closed["start"], closed["end"], closed["ref"], closed["samples"]) == (0, 3, "b", 3)


def test_a_gap_of_exactly_max_gap_keeps_the_run():
    tracker = EpisodeTracker(2.0, 2.5)
    events = _feed(tracker, [(0, True), (2.5, True), (5.0, False)])
    assert [kind for kind, _ in events] == ["open"]
    assert tracker.state["run"]["end"] == 2.5
    assert _feed(tracker, [(5.01, False)])[0][0] == "close"


def test_finish_closes_a_confirmed_run_once():
    tracker = EpisodeTracker(1.0, 2.5)
    _feed(tracker, [(0, True, "x", 0.5), (1, True, "y", 0.7)])
    assert tracker.finish() == [
        ("close", {"start": 0, "end": 1, "ref": "y", "peak": 0.7, "samples": 2, "confirmed": True})
    ]
    assert tracker.state["run"] is None
    assert tracker.finish() == []


def test_finish_on_a_fresh_tracker_is_nothing():
    assert EpisodeTracker(1.0, 1.0).finish() == []


def test_replayed_and_out_of_order_samples_are_ignored_and_state_survives_a_round_trip():
    tracker = EpisodeTracker(2.0, 2.5)
    _feed(tracker, [(0, True), (1, True)])
    assert tracker.feed(1, True) == [] and tracker.feed(0.5, True) == []
    assert tracker.state["run"]["samples"] == 2 and tracker.state["last_t"] == 1
    assert tracker.state["run"]["peak"] == 0.0  # no value given: 0
    resumed = EpisodeTracker(2.0, 2.5, dict(tracker.state))
    assert [kind for kind, _ in resumed.feed(2, True)] == ["open"]


def test_an_inactive_sample_inside_the_gap_neither_ends_nor_grows_the_run():
    tracker = EpisodeTracker(3.0, 2.5)
    events = _feed(tracker, [(0, True), (1, False), (2, True), (3, True)])
    assert [kind for kind, _ in events] == ["open"]
    assert events[0][1]["samples"] == 3 and events[0][1]["end"] == 3
