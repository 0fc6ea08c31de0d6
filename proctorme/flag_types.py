"""Every event and flag type, in one registry: its name (the public contract),
its description, and what it counts for.

* ``flag`` — stored as a Flag a reviewer sees (otherwise an Event only);
* ``violation`` — counted against the candidate: flag counts in the API, the
  dashboard, webhooks and CSV exports, the dashboard's flag filter, and
  Eye's SUSPICIOUS_ACTIVITY (random photos are evidence, not violations);
* ``deductible`` — the trust score may deduct it. analysis.trust has the
  default weight of each of these (a test holds the two together) and
  sessions.scoring passes the other types to it as switched off, so that no
  institution weight can make evidence or a state change cost anything;
* ``browser_signal`` — the widget sends it up the WebSocket.

Pure Python on purpose: the kernel imports nothing of the project here, and
analysis/ (which imports nothing of the project at all) gets what it needs
passed in by sessions/.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FlagType:
    name: str
    description: str
    flag: bool = True
    violation: bool = True
    deductible: bool = True
    browser_signal: bool = False


def _signal(name: str, description: str) -> FlagType:
    """A browser signal stored as an event: a state change or a lifecycle step, never a flag."""
    return FlagType(name, description, flag=False, violation=False, deductible=False, browser_signal=True)


def _server(name: str, description: str) -> FlagType:
    """An event the server records and pushes to the widget: never a flag, never sent up."""
    return FlagType(name, description, flag=False, violation=False, deductible=False)


_TYPES = (
    # Flags derived from the browser's signals
    FlagType("TAB_NOT_FOCUS", "The candidate left the exam tab or window."),
    FlagType("EXIT_FULLSCREEN", "The candidate left full screen."),
    FlagType("MULTIPLE_SCREENS", "More than one screen is connected.", browser_signal=True),
    FlagType("COPY_PASTE", "Copy, cut or paste was used on the exam page.", browser_signal=True),
    FlagType("CONNECTION_LOST", "The candidate's connection was lost.", browser_signal=True),
    # AutoProctor's captureSwitchedTab: screen sharing refused, stopped or not of the entire screen
    FlagType(
        "SCREEN_NOT_SHARED",
        "Screen sharing was refused, stopped, or not of the entire screen.",
        browser_signal=True,
    ),
    # Raised by the server when a second browser or device opens the running attempt
    FlagType("MULTIPLE_SESSIONS", "The attempt was opened in a second browser or device."),
    # Flags from the analysis of frames, snapshots and audio
    FlagType("FACE_ABSENCE", "No face was visible."),
    FlagType("MULTIPLE_FACE", "More than one face was visible."),
    FlagType("LOOKING_AWAY", "The candidate looked away from the screen."),
    FlagType("FACE_MISMATCH", "The face does not match the candidate's reference."),
    FlagType("CAMERA_BLOCKED", "The camera was covered or dark."),
    FlagType("SOUND_DETECTED", "Voices were heard."),
    # AutoProctor's idCardVerification and auxiliaryDevice (sessions.idcard, sessions.aux)
    FlagType("ID_CARD_MISMATCH", "The photo ID does not show the candidate, or shows no face."),
    FlagType("AUX_DISCONNECTED", "The paired phone's side view stopped."),
    FlagType("PERIODIC_SNAPSHOT", "A random photo of the candidate.", violation=False, deductible=False),
    # A summary of the others: counted and shown, never a deduction of its own
    FlagType("SUSPICIOUS_ACTIVITY", "Five different kinds of violation in one session.", deductible=False),
    # Browser signals that are state changes or lifecycle steps
    _signal("TAB_FOCUS_CHANGE", "The exam tab gained or lost focus."),
    _signal("FULLSCREEN_CHANGE", "The page entered or left full screen."),
    _signal("SET_CONFIG", "The widget's configuration (without the API key)."),
    _signal("SYSTEM_CHECK_STARTED", "The system check started."),
    _signal("SYSTEM_CHECK_COMPLETED", "The system check finished, with each check's result."),
    _signal("STARTED", "Monitoring started."),
    _signal("ERROR", "The widget reported an error code."),
    _signal("MESSAGE_ACKNOWLEDGED", "The candidate acknowledged a proctor's message."),
    # Live intervention and warnings, sent by the server (sessions.intervention, sessions.warnings)
    _server("PROCTOR_MESSAGE", "A proctor sent the candidate a message."),
    _server("PROCTORING_PAUSED", "A proctor paused the session: capture and the clock stopped."),
    _server("PROCTORING_RESUMED", "A proctor resumed the session; the deadline moved by the pause."),
    _server("TIME_EXTENDED", "A proctor gave the candidate more time."),
    _server("CANDIDATE_WARNING", "The candidate was warned (out of view, camera covered, too dark)."),
    FlagType(
        "END_PROCTORING",
        "Monitoring ended.",
        flag=False,
        violation=False,
        deductible=False,
        browser_signal=False,
    ),
)

FLAG_TYPES: dict[str, FlagType] = {t.name: t for t in _TYPES}

FLAGS = tuple(t.name for t in _TYPES if t.flag)
VIOLATIONS = frozenset(t.name for t in _TYPES if t.violation)
# The dashboard's and the API's flag-type filter offer these, in this order.
VIOLATION_TYPES = tuple(t.name for t in _TYPES if t.violation)
NOT_VIOLATIONS = frozenset(t.name for t in _TYPES if not t.violation)
DEDUCTIBLE = frozenset(t.name for t in _TYPES if t.deductible)
NEVER_DEDUCTED = frozenset(t.name for t in _TYPES if not t.deductible)
BROWSER_SIGNALS = frozenset(t.name for t in _TYPES if t.browser_signal)
SUMMARY_TYPE = "SUSPICIOUS_ACTIVITY"


def flag_description(name: str) -> str:
    known = FLAG_TYPES.get(name)
    return known.description if known else name
