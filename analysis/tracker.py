"""An incremental episode tracker: observations in capture order → flag events.

The same debounce rule as :func:`analysis.episodes.episodes` (a run of active
observations whose gaps are at most ``max_gap``, reported once it lasts
``min_duration``), fed one observation at a time in time order, with a state
that is a small JSON-able dict so a worker can store it between batches.
Feeding the same observations in order from the same state always gives the
same events, which is what makes re-analysis idempotent.

Events:
* ``("open", run)`` — the run just reached ``min_duration``: raise the flag now.
* ``("extend", run)`` — a confirmed run grew (update the flag's end).
* ``("close", run)`` — a confirmed run ended (no active observation for longer than ``max_gap``).
A run is ``{"start", "end", "ref", "peak", "samples"}``; ``ref`` is the evidence
chosen when the run was confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EpisodeTracker:
    min_duration: float
    max_gap: float
    state: dict = field(default_factory=dict)

    def feed(self, t: float, active: bool, ref: Any = None, value: float = 0.0) -> list[tuple[str, dict]]:
        events: list[tuple[str, dict]] = []
        run = self.state.get("run")
        last_t = self.state.get("last_t")
        if last_t is not None and t <= last_t:
            return events  # already seen (a replay) or out of order: ignore
        self.state["last_t"] = t
        if run is not None and t - run["end"] > self.max_gap:
            if run.get("confirmed"):
                events.append(("close", dict(run)))
            run = None
        if active:
            if run is None:
                run = {"start": t, "end": t, "ref": ref, "peak": value, "samples": 1, "confirmed": False}
            else:
                run["end"] = t
                run["peak"] = max(run["peak"], value)
                run["samples"] += 1
            if not run["confirmed"] and run["end"] - run["start"] >= self.min_duration:
                run["confirmed"] = True
                run["ref"] = ref
                events.append(("open", dict(run)))
            elif run["confirmed"]:
                events.append(("extend", dict(run)))
        self.state["run"] = run
        return events

    def finish(self) -> list[tuple[str, dict]]:
        """End of data (the session ended): close a confirmed run."""
        run = self.state.get("run")
        self.state["run"] = None
        if run is not None and run.get("confirmed"):
            return [("close", dict(run))]
        return []
