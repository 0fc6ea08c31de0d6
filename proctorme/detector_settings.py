"""The shape of an institution's or assessment's ``detector_settings``, checked where it is written.

``{"disabled": ["LOOKING_AWAY"],
   "weights": {"TAB_NOT_FOCUS": {"cap": 20, "per_event": 0.05, "per_minute": 0.1}},
   "sensitivity": {"max_yaw_deg": 40, "timing": {"FACE_ABSENCE": [5, 3]}}}``

A malformed value (``{"weights": {"TAB_NOT_FOCUS": 5}}``) would otherwise be
accepted by the admin and only fail later, in the analysis and the final
score of every session it touches. Pure Python: tenants and sessions both use
it; the sensitivity names are analysis.frames.FrameSensitivity's (a test holds
the two together).
"""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError

from proctorme.flag_types import FLAGS

SECTIONS = ("disabled", "weights", "sensitivity")
WEIGHT_FIELDS = ("cap", "per_event", "per_minute")
MAX_WEIGHT = 100.0
SENSITIVITY_KEYS = frozenset(
    {
        "min_face_confidence",
        "verify_confidence",
        "min_face_px",
        "min_relative_face_size",
        "max_yaw_deg",
        "max_pitch_deg",
        "dark_threshold",
        "min_contrast",
        "min_detail",
        "sure_face_confidence",
        "pose_confirm_margin_deg",
        "verify_below",
        "tile_face_confidence",
        "black_threshold",
        "max_eyes_yaw_deg",
        "eyes_min_face_px",
        "eyes_check",
        "eyes_centre_max_deg",
        "mouth_covered_below",
    }
)
MAX_TIMING_SECONDS = 3600.0


def _number(value, *, low: float = 0.0, high: float = math.inf) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
    )


def detector_settings_problems(value) -> list[str]:
    """Every reason ``value`` is not a valid detector_settings object (empty when it is)."""
    if not isinstance(value, dict):
        return ["Must be an object."]
    problems = [
        f"Unknown section {key!r} (use {', '.join(SECTIONS)})." for key in value if key not in SECTIONS
    ]
    disabled = value.get("disabled", [])
    if not isinstance(disabled, list) or not all(isinstance(t, str) and t in FLAGS for t in disabled):
        problems.append("disabled: a list of flag types.")
    weights = value.get("weights", {})
    if not isinstance(weights, dict):
        problems.append("weights: an object of flag type → {cap, per_event, per_minute}.")
        weights = {}
    for type_, weight in weights.items():
        if type_ not in FLAGS:
            problems.append(f"weights: unknown flag type {type_!r}.")
        elif (
            not isinstance(weight, dict)
            or not weight
            or any(k not in WEIGHT_FIELDS or not _number(v, high=MAX_WEIGHT) for k, v in weight.items())
        ):
            problems.append(
                f"weights.{type_}: an object with cap, per_event and / or per_minute, numbers 0–{MAX_WEIGHT:g}."
            )
    sensitivity = value.get("sensitivity", {})
    if not isinstance(sensitivity, dict):
        problems.append("sensitivity: an object.")
        sensitivity = {}
    for key, number in sensitivity.items():
        if key == "timing":
            if not isinstance(number, dict) or not all(
                t in FLAGS
                and isinstance(pair, list)
                and len(pair) == 2
                and all(_number(x, high=MAX_TIMING_SECONDS) for x in pair)
                for t, pair in number.items()
            ):
                problems.append("sensitivity.timing: flag type → [min_duration, max_gap] in seconds.")
        elif key not in SENSITIVITY_KEYS:
            problems.append(f"sensitivity: unknown setting {key!r}.")
        elif not _number(number, high=10_000):
            problems.append(f"sensitivity.{key}: a number.")
    return problems


def validate_detector_settings(value) -> None:
    """A model-field validator: raise ValidationError naming every problem."""
    problems = detector_settings_problems(value)
    if problems:
        raise ValidationError(problems)
