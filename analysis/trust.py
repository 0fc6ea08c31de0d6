"""The session trust score: 100 (nothing suspicious) down to 0.

For each flag type t with weight (cap_t, per_event_t, per_minute_t), over an
exam of E seconds:

    hours_t = per_event_t * count_t + per_minute_t * minutes_t      "exposure"
    x_t     = hours_t * 3600 / max(E, 600)                          per exam hour
    d_t     = cap_t * (1 - exp(-x_t))                               deduction
    D       = sum(d_t);  if D > 100, every d_t is scaled by 100 / D
    score   = 100 - min(D, 100)

* monotonic: x_t grows with every flag and every second, d_t with x_t, and
  the scaling only applies once the score is already 0;
* bounded: each type costs at most cap_t and the total at most 100;
* normalised for exam length: counts and minutes are turned into rates per
  exam hour, so the same behaviour rate in a 2-hour exam costs what it costs in
  a 1-hour one (exams under 10 minutes count as 10 minutes, so a 30-second quiz
  with one glance away is not an automatic fail);
* explainable: the breakdown holds each type's deduction, rounded to tenths
  with the largest-remainder method so that they add up exactly to
  100 - score (in tenths: ``sum(round(d * 10)) == 1000 - round(score * 10)``).

Types without a weight and disabled types cost nothing and do not appear in
the breakdown. Which types may ever be deducted is the flag-type registry's
call (proctorme/flag_types.py): sessions.scoring passes every other type
(random photos, state changes …) as disabled, so no weight makes them count.

Worked example, a 60-minute exam, default weights: two ``TAB_NOT_FOCUS``
(40 s in all) and one 20-second ``MULTIPLE_FACE``:

    TAB_NOT_FOCUS: x = 0.06*2 + 0.2*0.667 = 0.253;  d = 35*(1-e^-0.253) = 7.87
    MULTIPLE_FACE: x = 0.3*1 + 0.3*0.333  = 0.400;  d = 60*(1-e^-0.400) = 19.78
    score = 100 - 27.65 = 72.4 ("review"); breakdown 7.8 + 19.8 = 27.6

The same flags in a 120-minute exam halve x: score 85.0 ("low").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Weight:
    cap: float  # the most this type can ever deduct
    per_event: float  # exposure per flag
    per_minute: float = 0.0  # exposure per flagged minute

    def __post_init__(self) -> None:
        for name in ("cap", "per_event", "per_minute"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Weight.{name} must be a finite number >= 0, got {value!r}")
        if self.cap > 100:
            raise ValueError("Weight.cap must be <= 100")


DEFAULT_WEIGHTS: Mapping[str, Weight] = {
    "FACE_ABSENCE": Weight(cap=40, per_event=0.05, per_minute=0.2),
    "MULTIPLE_FACE": Weight(cap=60, per_event=0.3, per_minute=0.3),
    "LOOKING_AWAY": Weight(cap=25, per_event=0.03, per_minute=0.1),
    "FACE_MISMATCH": Weight(cap=70, per_event=0.8, per_minute=0.3),
    "CAMERA_BLOCKED": Weight(cap=40, per_event=0.1, per_minute=0.25),
    "SOUND_DETECTED": Weight(cap=25, per_event=0.03, per_minute=0.15),
    "TAB_NOT_FOCUS": Weight(cap=35, per_event=0.06, per_minute=0.2),
    "EXIT_FULLSCREEN": Weight(cap=25, per_event=0.08, per_minute=0.1),
    "MULTIPLE_SCREENS": Weight(cap=40, per_event=0.4),
    "COPY_PASTE": Weight(cap=30, per_event=0.15),
    "CONNECTION_LOST": Weight(cap=15, per_event=0.02, per_minute=0.05),
    "MULTIPLE_SESSIONS": Weight(cap=40, per_event=0.4),
    "ID_CARD_MISMATCH": Weight(cap=50, per_event=0.6),
    "AUX_DISCONNECTED": Weight(cap=30, per_event=0.15, per_minute=0.1),
    "SCREEN_NOT_SHARED": Weight(cap=30, per_event=0.2),
}

MIN_EXAM_SECONDS = 600.0
LOW_RISK = 85.0
REVIEW = 60.0


@dataclass(frozen=True, slots=True)
class FlagInput:
    type: str
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class TrustResult:
    score: float
    band: str  # "low" | "review" | "high"
    breakdown: dict[str, dict[str, float]]  # type -> {"count", "seconds", "deduction"}


def band_for(score: float) -> str:
    if score >= LOW_RISK:
        return "low"
    if score >= REVIEW:
        return "review"
    return "high"


def _largest_remainder(values: dict[str, float], total_tenths: int) -> dict[str, int]:
    """Round values (in tenths) to integers that sum exactly to total_tenths."""
    floors = {k: math.floor(v * 10) for k, v in values.items()}
    short = total_tenths - sum(floors.values())
    # Deterministic: biggest remainder first, then by name.
    order = sorted(values, key=lambda k: (-(values[k] * 10 - floors[k]), k))
    for k in order[: max(short, 0)]:
        floors[k] += 1
    return floors


def trust_score(
    flags: Iterable[FlagInput],
    *,
    exam_seconds: float,
    weights: Mapping[str, Weight] | None = None,
    disabled: Iterable[str] = frozenset(),
) -> TrustResult:
    """Score a session's flags; ``weights`` override the defaults type by type."""
    if not math.isfinite(exam_seconds) or exam_seconds < 0:
        raise ValueError("exam_seconds must be a finite number >= 0")
    table = {**DEFAULT_WEIGHTS, **(weights or {})}
    off = set(disabled)

    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for flag in flags:
        if flag.type in off or flag.type not in table:
            continue
        duration = float(flag.duration_s or 0.0)
        if not math.isfinite(duration) or duration < 0:
            raise ValueError(f"flag duration must be a finite number >= 0, got {flag.duration_s!r}")
        counts[flag.type] = counts.get(flag.type, 0) + 1
        seconds[flag.type] = seconds.get(flag.type, 0.0) + duration

    per_hour = 3600.0 / max(exam_seconds, MIN_EXAM_SECONDS)
    deductions: dict[str, float] = {}
    for kind in sorted(counts):
        w = table[kind]
        x = (w.per_event * counts[kind] + w.per_minute * seconds[kind] / 60.0) * per_hour
        deductions[kind] = w.cap * -math.expm1(-x)
    total = math.fsum(deductions.values())
    if total > 100.0:
        deductions = {k: v * 100.0 / total for k, v in deductions.items()}
        total = 100.0

    score = round(max(0.0, 100.0 - total), 1)
    tenths = _largest_remainder(deductions, 1000 - round(score * 10))
    breakdown = {
        kind: {"count": counts[kind], "seconds": round(seconds[kind], 3), "deduction": tenths[kind] / 10}
        for kind in sorted(counts)
    }
    return TrustResult(score=score, band=band_for(score), breakdown=breakdown)
