"""Warnings to the candidate as they happen, from the same frame analysis that raises flags.

While a session runs with warnings on (``config["warnings"]``: the assessment's
``candidate_warnings``, else the institution's, which is on by default), each analysed frame
is one of: fine, ``absent`` (nobody in view), ``covered`` (a featureless image: a hand, a
sheet of paper) or ``dark`` (too little light to see anyone). Two frames in a row of the
same problem (≥ 1 s at the default cadence, so one missed detection never alarms anyone)
send the widget ``{"type": "warning", "kind": …}``; the first fine frame clears it
(``kind: null``). A warning is recorded on the timeline (``CANDIDATE_WARNING``) so reviewers
see the candidate was told. Only fresh frames warn: a backlog uploaded after an outage
does not replay old warnings. The widget shows the words in the candidate's language.

The same classification answers the pre-exam check of lighting and face quality
(``frame_check``), so what the candidate is told before the exam is what is watched during it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from proctorme.times import iso

WARN_AFTER_FRAMES = 2
FRESH_FOR = timedelta(seconds=15)
KINDS = ("absent", "covered", "dark")


def frame_problem(obs: dict) -> str | None:
    """``absent`` / ``covered`` / ``dark`` for one frame's observation, or None when fine."""
    if obs.get("blocked"):
        return "dark" if obs.get("blockedReason") == "dark" else "covered"
    # As FACE_ABSENCE: a face hidden for a moment behind a cup or a hand is not an absence.
    if obs.get("faces", 0) == 0 and not obs.get("hidden"):
        return "absent"
    return None


def warnings_apply(session, state: dict, observed: list[tuple[datetime, dict]], enabled: set[str]) -> None:
    """Feed frames (capture time, observation) in capture order; push a change to the widget.

    ``state`` is the session's ``analysis_state["warning"]`` (changed in place).
    """
    from sessions.services import session_event_record, session_push

    if not observed or not (session.config or {}).get("warnings") or session.paused_at is not None:
        return
    watch = set()
    if "FACE_ABSENCE" in enabled:
        watch.add("absent")
    if "CAMERA_BLOCKED" in enabled:
        watch.update({"covered", "dark"})
    if not watch:
        return
    for _, obs in observed:
        if "error" in obs:
            continue
        problem = frame_problem(obs)
        problem = problem if problem in watch else None
        if problem == state.get("run"):
            state["count"] = state.get("count", 0) + 1
        else:
            state["run"], state["count"] = problem, 1
    run, count = state.get("run"), state.get("count", 0)
    shown = state.get("shown")
    target = None if run is None else (run if count >= WARN_AFTER_FRAMES else shown)
    latest = observed[-1][0]
    if target == shown or timezone.now() - latest > FRESH_FOR:
        return
    state["shown"] = target
    session_push(session, {"type": "warning", "kind": target, "at": iso(latest)})
    if target is not None:
        session_event_record(session, "CANDIDATE_WARNING", {"kind": target, "at": iso(latest)})


def frame_check(obs: dict) -> dict:
    """The pre-exam check of one camera frame: ``ok``, ``absent``, ``covered``, ``dark`` or
    ``several`` (more than one face), with the measures behind it."""
    if "error" in obs:
        verdict = "absent"
    elif obs.get("faces", 0) >= 2 and not obs.get("blocked"):
        verdict = "several"
    else:
        verdict = frame_problem(obs) or "ok"
    return {
        "result": verdict,
        "faces": obs.get("faces", 0),
        "brightness": obs.get("brightness"),
    }
