"""Trust score of a session, from its flags (analysis.trust does the maths).

Weights and switched-off detectors come from the institution's
``detector_settings`` and then the assessment's, each overriding the last:

    {"disabled": ["LOOKING_AWAY"],
     "weights": {"TAB_NOT_FOCUS": {"cap": 20, "per_event": 0.05, "per_minute": 0.1}}}
"""

from __future__ import annotations

import logging

from django.utils import timezone

from analysis.trust import DEFAULT_WEIGHTS, FlagInput, TrustResult, Weight, trust_score
from proctorme.detector_settings import detector_settings_problems
from proctorme.flag_types import NEVER_DEDUCTED
from sessions.models import Flag, ProctoringSession

log = logging.getLogger(__name__)


def detector_settings_for(session: ProctoringSession) -> dict:
    """The merged settings, with the detectors the candidate's accommodation switches off."""
    merged = detector_settings_merge(session.institution, session.assessment)
    accommodation = (session.config or {}).get("accommodation") or {}
    exempt = [d for d in accommodation.get("disabledDetectors") or [] if d not in merged["disabled"]]
    merged["disabled"] = [*merged["disabled"], *exempt]
    return merged


def detector_settings_merge(institution, assessment) -> dict:
    """The institution's detector settings with the assessment's over them."""
    merged: dict = {"disabled": [], "weights": {}, "sensitivity": {}}
    for layer in (institution.detector_settings or {}, assessment.detector_settings or {}):
        if detector_settings_problems(layer):
            # Written before settings were validated (or past the validators): the product's
            # defaults stand in for it rather than break every analysis and score it touches.
            log.warning("malformed detector_settings ignored: %s", detector_settings_problems(layer))
            continue
        if "disabled" in layer:
            merged["disabled"] = list(layer.get("disabled") or [])
        for key in ("weights", "sensitivity"):
            if isinstance(layer.get(key), dict):
                merged[key] = {**merged[key], **layer[key]}
    return merged


def _weights(settings: dict) -> dict[str, Weight]:
    weights = dict(DEFAULT_WEIGHTS)
    for type_, values in settings["weights"].items():
        base = weights.get(type_, Weight(cap=0, per_event=0))
        weights[type_] = Weight(
            cap=float(values.get("cap", base.cap)),
            per_event=float(values.get("per_event", base.per_event)),
            per_minute=float(values.get("per_minute", base.per_minute)),
        )
    return weights


def session_exam_seconds(session: ProctoringSession) -> float:
    """How long the exam ran, without the time a proctor had it paused."""
    end = session.ended_at or timezone.now()
    paused = session.paused_seconds or 0.0
    if session.paused_at is not None:
        paused += max((end - session.paused_at).total_seconds(), 0.0)
    return max((end - session.started_at).total_seconds() - paused, 1.0)


def session_score_compute(*, session: ProctoringSession, include_dismissed: bool = True) -> TrustResult:
    settings = detector_settings_for(session)
    now = timezone.now()
    flags = Flag.objects.filter(session=session)
    if not include_dismissed:
        flags = flags.filter(dismissed_at__isnull=True)
    # Tuples, not model instances: analysis scores a running session after every upload.
    inputs = [
        FlagInput(
            type=type_,
            duration_s=duration if ended_at else max((now - started_at).total_seconds(), 0.0),
        )
        for type_, duration, ended_at, started_at in flags.values_list(
            "type", "duration_seconds", "ended_at", "started_at"
        )
    ]
    return trust_score(
        inputs,
        exam_seconds=session_exam_seconds(session),
        weights=_weights(settings),
        disabled=frozenset(settings["disabled"]) | NEVER_DEDUCTED,
    )


def breakdown_json(result: TrustResult, *, session: ProctoringSession | None = None) -> dict:
    """What is stored as ``trust_breakdown``; names the accommodation the session ran with."""
    stored = {"score": result.score, "band": result.band, "types": result.breakdown}
    accommodation = ((session.config or {}).get("accommodation") if session is not None else None) or None
    if accommodation:
        stored["accommodation"] = accommodation
    return stored


def reviewed_score_compute(*, session: ProctoringSession) -> float | None:
    """The score without dismissed flags, or None while no flag is dismissed."""
    if not Flag.objects.filter(session=session, dismissed_at__isnull=False).exists():
        return None
    return session_score_compute(session=session, include_dismissed=False).score
