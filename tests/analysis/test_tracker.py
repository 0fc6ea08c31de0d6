"""The incremental tracker agrees with the set-based episodes() on the same data."""

from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.episodes import episodes
from analysis.tracker import EpisodeTracker


def _run_tracker(observations, min_duration, max_gap, split_at=None):
    state: dict = {}
    spans = {}
    for i, (t, active) in enumerate(observations):
        if split_at is not None and i == split_at:
            state = __import__("json").loads(__import__("json").dumps(state))  # stored between batches
        tracker = EpisodeTracker(min_duration, max_gap, state)
        for kind, run in tracker.feed(t, active, ref=t):
            spans[run["start"]] = (run["start"], run["end"])
        state = tracker.state
    for _, run in EpisodeTracker(min_duration, max_gap, state).finish():
        spans[run["start"]] = (run["start"], run["end"])
    return sorted(spans.values())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 300), st.booleans()), max_size=120),
    st.integers(0, 8),
    st.integers(0, 5),
    st.data(),
)
def test_tracker_matches_the_batch_definition(raw, min_duration, max_gap, data):
    by_time = {}
    for t, active in raw:
        by_time[t] = by_time.get(t, False) or active
    observations = sorted(by_time.items())
    split = data.draw(st.integers(0, max(len(observations), 1)))
    expected = [
        (e.start, e.end)
        for e in episodes([(t, a, t) for t, a in observations], min_duration=min_duration, max_gap=max_gap)
    ]
    assert _run_tracker(observations, min_duration, max_gap, split_at=split) == expected


def test_replayed_observations_change_nothing():
    tracker = EpisodeTracker(2, 1)
    events = [e for t in range(5) for e in tracker.feed(float(t), True)]
    assert [kind for kind, _ in events] == ["open", "extend", "extend"]
    assert [e for t in range(5) for e in tracker.feed(float(t), True)] == []


def test_a_short_blip_raises_nothing_and_a_long_run_opens_then_closes():
    tracker = EpisodeTracker(3, 1)
    seen = []
    for t, active in [
        (0, True),
        (1, False),
        (2, False),
        (3, True),
        (4, True),
        (5, True),
        (6, True),
        (7, False),
        (8, False),
        (9, False),
    ]:
        seen += [(kind, run["start"], run["end"]) for kind, run in tracker.feed(float(t), active)]
    assert seen == [("open", 3.0, 6.0), ("close", 3.0, 6.0)]
