"""What Proctorme does with every option, method and event the two SDK dialects document.

docs/widget.md ("Dialect coverage") prints these tables, and a test holds the
document, this registry and the widget's code (static/proctorme/src/) to each
other: an option the widget reads that is not listed here, a listed window
event the widget never dispatches, or a table row that says otherwise, fails it.

Statuses: ``supported`` (does what the vendor's docs say), ``partial`` (the note
says what is missing), ``ignored`` (accepted, nothing to do here), ``not built``.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED, PARTIAL, IGNORED, NOT_BUILT = "supported", "partial", "ignored", "not built"


@dataclass(frozen=True)
class Item:
    name: str
    status: str
    note: str = ""


AUTOPROCTOR_TRACKING = (
    Item("audio", SUPPORTED, "microphone on and analysed (5004)"),
    Item("numHumans", SUPPORTED, "no face / several faces (5001, 5002)"),
    Item("tabSwitch", SUPPORTED, "leaving the tab and coming back (5005, 5006)"),
    Item(
        "captureSwitchedTab",
        SUPPORTED,
        "the entire screen is shared at setup; a frame of it when focus leaves is the TAB_NOT_FOCUS "
        "evidence; refused, failed, not the entire screen or stopped: 4011-4014 and SCREEN_NOT_SHARED",
    ),
    Item("photosAtRandom", SUPPORTED, "random snapshots (5003)"),
    Item("numPhotosAtRandom", SUPPORTED, "how many random photos the report keeps"),
    Item(
        "recordSession",
        SUPPORTED,
        "low-frame-rate WebM of the camera with sound (and the shared screen), played in the replay "
        "and the report; capped per session, purged with the other media",
    ),
    Item(
        "testTakerPhoto",
        SUPPORTED,
        "one photo at the start, even with random photos off: the report's photo and the identity "
        "reference when there is no candidate image",
    ),
    Item("forceFullScreen", SUPPORTED, "needs testContainerId; full screen at start()"),
    Item("detectMultipleScreens", SUPPORTED, "several monitors (5007)"),
    Item("forceDesktop", SUPPORTED, "phones and tablets refused (4001)"),
    Item("impersonation", SUPPORTED, "snapshots compared with the first face"),
    Item("showCamPreview", SUPPORTED, "camera preview in the badge"),
    Item("disableCopyPaste", SUPPORTED, "copy, cut and paste blocked and still reported"),
    Item(
        "multiSessionAttempt",
        SUPPORTED,
        "a second browser or device is flagged (MULTIPLE_SESSIONS), or refused with"
        " multiSessionAttemptPolicy; a resume from another IP address is flagged, never refused",
    ),
    Item(
        "auxiliaryDevice",
        SUPPORTED,
        "a phone paired by QR code streams a side view (own frames and flags); a drop is AUX_DISCONNECTED",
    ),
    Item(
        "idCardVerification",
        PARTIAL,
        "photo ID before the test, its face compared with the live face (5 tries, ID_CARD_MISMATCH); "
        "name and expiryDate are not read",
    ),
)

AUTOPROCTOR_SETUP = (
    Item("trackingOptions", SUPPORTED, "alias track"),
    Item("testContainerId", SUPPORTED, "the element made full screen"),
    Item("userDetails", SUPPORTED, "name and email, shown in the report"),
    Item("testDuration", SUPPORTED, "minutes; the server ends the attempt after it"),
    Item("lookupKey", SUPPORTED, "groups attempts into one assessment when assessmentId is absent"),
    Item("alertBeforeUnload", SUPPORTED, "default on: the browser asks before leaving a monitored page"),
    Item("showHowToVideo", IGNORED, "there is no how-to video"),
    Item("multiSessionAttemptPolicy", SUPPORTED, 'Proctorme\'s: "flag" (default) or "refuse" (4109)'),
    Item("auxDeviceTestContainerId", SUPPORTED, "where the pairing QR code goes (else a dialog)"),
    Item("auxDeviceContainerId", SUPPORTED, "the newer docs' name of auxDeviceTestContainerId"),
    Item("auxDevicePath", IGNORED, "the phone's page is always served by this server"),
)

AUTOPROCTOR_CREDENTIALS = (
    Item("clientId", SUPPORTED, "the publishable key"),
    Item("testAttemptId", SUPPORTED, "at most 40 characters"),
    Item("hashedTestAttemptId", SUPPORTED, "HMAC (base64 or hex) or the WordPress plugin's hash"),
    Item("domain", IGNORED, "the widget talks to the server it was loaded from"),
    Item("environment", IGNORED, "as domain"),
)

AUTOPROCTOR_METHODS = (
    Item("setup", SUPPORTED),
    Item("start", SUPPORTED, "again before stop() resumes; after stop() it throws"),
    Item("stop", SUPPORTED),
    Item("destroy", SUPPORTED),
    Item("showReport", SUPPORTED, "see reportOptions below"),
    Item("showResults", SUPPORTED, "the same as showReport()"),
    Item("isApTestStarted", SUPPORTED, "property"),
    Item("setupState", SUPPORTED, "property: null, ready or error"),
    Item("isAuxiliaryDeviceConfirmed", SUPPORTED, "property: true once a phone is paired"),
)

AUTOPROCTOR_REPORT_OPTIONS = (
    Item("showProctoringOverview", SUPPORTED, "photo, name, times, Trust Score"),
    Item("proctoringOverviewDOMId", SUPPORTED),
    Item("showProctoringSummary", SUPPORTED, "the table of violations with evidence"),
    Item("proctoringSummaryDOMId", SUPPORTED),
    Item("showSessionRecording", SUPPORTED, "plays the recordSession segments, camera and screen"),
    Item("sessionRecordingDOMId", SUPPORTED),
    Item("groupReportsIntoTabs", SUPPORTED),
    Item("tabContainerDOMId", SUPPORTED),
    Item("insertTestReportTab", SUPPORTED, "your element becomes a tab"),
    Item("testReportDOMId", SUPPORTED),
    Item("showDownloadReportBtn", SUPPORTED, "downloads the rendered report as HTML"),
    Item("userDetails", SUPPORTED),
)

AUTOPROCTOR_EVENTS = (
    Item("apSetupCompleted", SUPPORTED),
    Item("apMonitoringStarted", SUPPORTED),
    Item("apMonitoringStopped", SUPPORTED),
    Item("apInstanceDestroyed", SUPPORTED),
    Item("apProgressUpdate", SUPPORTED, 'detail.action "show" while setting up, then "hide"'),
    Item("apProgressDelayed", SUPPORTED, "a setup step took more than 15 s"),
    Item("apSuccessEvent", SUPPORTED, "2001, 2002, 2003"),
    Item("apBrowserDependencyCheckPassed", SUPPORTED),
    Item("apErrorEvent", SUPPORTED),
    Item("apEvidenceEvent", SUPPORTED),
    Item("apReportLoaded", SUPPORTED, "Proctorme's: showReport() finished"),
    Item(
        "apProctorMessage",
        SUPPORTED,
        "Proctorme's: a proctor's message, shown in the badge until acknowledged",
    ),
    Item("apMessageAcknowledged", SUPPORTED, "Proctorme's: the candidate acknowledged a message"),
    Item("apMonitoringPaused", SUPPORTED, "Proctorme's: a proctor paused; capture and the clock stop"),
    Item("apMonitoringResumed", SUPPORTED, "Proctorme's: resumed; detail.deadlineAt moved by the pause"),
    Item("apTimeExtended", SUPPORTED, "Proctorme's: a proctor gave more time"),
    Item("apCandidateWarning", SUPPORTED, "Proctorme's: out of view, camera covered or too dark"),
    Item("apMonitoringOnAuxStarted", SUPPORTED, "the paired phone's side view started (again)"),
    Item("apAuxDisconnected", SUPPORTED, "the phone sent nothing for 15 s"),
)

# The older generation AutoProctor's WordPress plugin uses (includes/frontend/start-test.php).
AUTOPROCTOR_LEGACY = (
    Item("initAutoProctor", SUPPORTED, "setup done; resolves with the instance (start(), stop())"),
    Item("tenantId", SUPPORTED, "the client id (publishable key)"),
    Item("preventMultipleScreens", SUPPORTED, "detectMultipleScreens"),
    Item("forcePreventMultipleScreens", PARTIAL, "detectMultipleScreens: reported (5007), not refused"),
    Item("forceCaptureSwitchedTab", SUPPORTED, "captureSwitchedTab"),
    Item("previewVideo", SUPPORTED, "showCamPreview"),
    Item("evidencePushInterval", IGNORED, "the server sets the upload cadence"),
    Item("auxiliaryDeviceRandomPhotoPushInterval", IGNORED, "the phone sends a frame every 2 s"),
    Item("restrictConsole", IGNORED, "a page cannot stop its candidate's developer tools"),
    Item("apStartTest", SUPPORTED, "sent with apMonitoringStarted"),
    Item("apStopMonitoring", SUPPORTED, "sent with apMonitoringStopped"),
    Item(
        "auxDeviceTestAttemptLabelGenerated", SUPPORTED, "the pairing QR code is shown; detail.auxDeviceLabel"
    ),
    Item("auxDeviceConfirmed", SUPPORTED, "the phone claimed the pairing"),
)

EYE_CONFIG = (
    Item("apiKey", SUPPORTED, "the publishable key"),
    Item("assessmentId", SUPPORTED),
    Item("assessmentTitle", SUPPORTED),
    Item("candidateId", SUPPORTED),
    Item("candidateEmail", SUPPORTED),
    Item("candidateFirstName", SUPPORTED),
    Item("candidateLastName", SUPPORTED),
    Item("institutionName", SUPPORTED, "shown in the consent notice"),
    Item("examDuration", SUPPORTED, "seconds; the server ends the session after it"),
    Item("candidateImageUrl", SUPPORTED, "identity reference"),
    Item("features", SUPPORTED, "aiProctoring, facialRecognition"),
    Item("containerId", SUPPORTED, "where the badge goes"),
)

EYE_METHODS = (
    Item("LoadProctormeWidget", SUPPORTED),
    Item("LoadEyeWidget", SUPPORTED, "the same function"),
    Item("init", SUPPORTED),
    Item("on", SUPPORTED, "before or after init()"),
    Item("resetSessionListeners", SUPPORTED),
    Item("endProctoring", SUPPORTED),
)

EYE_EVENTS = (
    Item("STARTED", SUPPORTED),
    Item("END_PROCTORING", SUPPORTED),
    Item("SET_CONFIG", SUPPORTED, "never echoes the API key"),
    Item("SYSTEM_CHECK_STARTED", SUPPORTED),
    Item("SYSTEM_CHECK_COMPLETED", SUPPORTED),
    Item("ERROR", SUPPORTED),
    Item("FULLSCREEN_CHANGE", SUPPORTED),
    Item("EXIT_FULLSCREEN", SUPPORTED),
    Item("TAB_FOCUS_CHANGE", SUPPORTED),
    Item("TAB_NOT_FOCUS", SUPPORTED),
    Item("MULTIPLE_SCREENS", SUPPORTED),
    Item("COPY_PASTE", SUPPORTED),
    Item("CONNECTION_LOST", SUPPORTED),
    Item("MULTIPLE_SESSIONS", SUPPORTED, "Proctorme's: the attempt opened in a second browser or device"),
    Item(
        "SCREEN_NOT_SHARED",
        SUPPORTED,
        "Proctorme's, from AutoProctor's captureSwitchedTab: screen sharing refused or stopped "
        "(never raised for Eye pages, which share no screen)",
    ),
    Item("FACE_ABSENCE", SUPPORTED),
    Item("MULTIPLE_FACE", SUPPORTED),
    Item("LOOKING_AWAY", SUPPORTED),
    Item("FACE_MISMATCH", SUPPORTED),
    Item("CAMERA_BLOCKED", SUPPORTED),
    Item("SOUND_DETECTED", SUPPORTED),
    Item("ID_CARD_MISMATCH", SUPPORTED, "Proctorme's: AutoProctor's photo-ID step failed every try"),
    Item("AUX_DISCONNECTED", SUPPORTED, "Proctorme's: AutoProctor's paired phone went silent"),
    Item("PERIODIC_SNAPSHOT", SUPPORTED),
    Item("SUSPICIOUS_ACTIVITY", SUPPORTED, "once, when a fifth distinct violation type appears"),
    Item("MESSAGE_ACKNOWLEDGED", SUPPORTED, "Proctorme's: the candidate acknowledged a proctor's message"),
    Item(
        "PROCTOR_MESSAGE",
        SUPPORTED,
        "Proctorme's: a proctor's message, shown in the badge until acknowledged",
    ),
    Item("PROCTORING_PAUSED", SUPPORTED, "Proctorme's: a proctor paused; capture and the clock stop"),
    Item("PROCTORING_RESUMED", SUPPORTED, "Proctorme's: resumed; deadlineAt moved by the pause"),
    Item("TIME_EXTENDED", SUPPORTED, "Proctorme's: a proctor gave more time; the new deadlineAt"),
    Item("CANDIDATE_WARNING", SUPPORTED, "Proctorme's: out of view, camera covered or too dark"),
)

TABLES: dict[str, tuple[Item, ...]] = {
    "AutoProctor trackingOptions": AUTOPROCTOR_TRACKING,
    "AutoProctor setup options": AUTOPROCTOR_SETUP,
    "AutoProctor credentials": AUTOPROCTOR_CREDENTIALS,
    "AutoProctor methods and properties": AUTOPROCTOR_METHODS,
    "AutoProctor reportOptions": AUTOPROCTOR_REPORT_OPTIONS,
    "AutoProctor window events": AUTOPROCTOR_EVENTS,
    "AutoProctor legacy API (initAutoProctor)": AUTOPROCTOR_LEGACY,
    "Eye config": EYE_CONFIG,
    "Eye methods": EYE_METHODS,
    "Eye events": EYE_EVENTS,
}


def coverage_markdown() -> str:
    """The "Dialect coverage" tables of docs/widget.md, exactly as the test expects them."""
    parts = []
    for title, items in TABLES.items():
        rows = "\n".join(f"| `{item.name}` | {item.status} | {item.note} |" for item in items)
        parts.append(f"#### {title}\n\n| name | status | notes |\n|---|---|---|\n{rows}\n")
    return "\n".join(parts)
