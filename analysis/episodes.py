"""From per-sample observations to flag episodes (the debounce state machine).

``episodes()`` is a pure function of the *set* of observations: batches can
arrive late, twice or out of order and re-analysing everything seen so far
gives the same answer, so the caller can upsert episodes by ``start`` (or by
evidence) idempotently.

Rules:

* observations are de-duplicated and sorted by time; several observations at
  the same instant count as active if any of them is;
* consecutive *active* observations belong to one episode while they are at
  most ``max_gap`` seconds apart — a short inactive or missing stretch between
  them (one lost frame, one mis-detection) does not split it;
* an episode runs from its first to its last active observation and is kept
  when it lasts at least ``min_duration`` seconds;
* it is ``open`` while a later active observation could still extend it, i.e.
  when no observation at or after ``end + max_gap`` has been seen;
* its evidence is the active observation nearest its middle (earlier, then
  smaller ``str(ref)`` on ties); ``peak`` is the largest ``value`` in it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Observation:
    t: float
    active: bool
    ref: Hashable = None  # e.g. the frame's media id
    value: float = 0.0  # e.g. face count or |yaw|; the episode keeps the peak


@dataclass(frozen=True, slots=True)
class Episode:
    start: float
    end: float
    evidence_ref: Any
    evidence_t: float
    peak: float
    samples: int  # distinct instants with an active observation
    open: bool

    @property
    def duration(self) -> float:
        return self.end - self.start


def _coerce(o: Observation | tuple) -> Observation:
    return o if isinstance(o, Observation) else Observation(*o)


def episodes(
    observations: Iterable[Observation | tuple],
    *,
    min_duration: float,
    max_gap: float,
) -> list[Episode]:
    """Episodes of ``active`` observations; tuples ``(t, active, ref[, value])`` are accepted."""
    if min_duration < 0 or max_gap < 0:
        raise ValueError("min_duration and max_gap must be >= 0")
    obs = {_coerce(o) for o in observations}
    if not obs:
        return []
    last_t = max(o.t for o in obs)
    active_at: dict[float, list[Observation]] = {}
    for o in obs:
        if o.active:
            active_at.setdefault(o.t, []).append(o)
    times = sorted(active_at)

    groups: list[list[float]] = []
    for t in times:
        if groups and t - groups[-1][-1] <= max_gap:
            groups[-1].append(t)
        else:
            groups.append([t])

    out = []
    for group in groups:
        start, end = group[0], group[-1]
        if end - start < min_duration:
            continue
        members = [o for t in group for o in active_at[t]]
        mid = (start + end) / 2
        evidence = min(members, key=lambda o: (abs(o.t - mid), o.t, str(o.ref)))
        out.append(
            Episode(
                start=start,
                end=end,
                evidence_ref=evidence.ref,
                evidence_t=evidence.t,
                peak=max(o.value for o in members),
                samples=len(group),
                open=last_t < end + max_gap,
            )
        )
    return out
