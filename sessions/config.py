"""Validation and normalisation of the two dialects' configurations.

Both dialects end up as the same normalised dict stored on the session:
who the candidate is, which exam, how long, and which detectors run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from proctorme.errors import InvalidConfig

EYE_REQUIRED_TEXT = [
    "apiKey",
    "assessmentId",
    "assessmentTitle",
    "candidateId",
    "candidateEmail",
    "candidateFirstName",
    "candidateLastName",
    "institutionName",
]
# Every field an Eye page must pass (the widget checks them before it calls the server).
EYE_REQUIRED = [*EYE_REQUIRED_TEXT, "examDuration"]
MAX_EXAM_SECONDS = 24 * 3600
DEFAULT_AUTOPROCTOR_SECONDS = 3 * 3600

TRACKING_DEFAULTS = {
    "audio": True,
    "numHumans": True,
    "tabSwitch": True,
    "captureSwitchedTab": True,
    "photosAtRandom": True,
    "numPhotosAtRandom": 25,
    "recordSession": False,
    "testTakerPhoto": False,
    "forceFullScreen": False,
    "detectMultipleScreens": True,
    "forceDesktop": False,
    "impersonation": False,
    "showCamPreview": False,
    "disableCopyPaste": False,
    "multiSessionAttempt": False,
    "auxiliaryDevice": False,
    # AutoProctor documents an object {face, name, expiryDate}; true is read as {face: true}.
    # Normalised to that object, or False when off (parse_id_card_verification).
    "idCardVerification": False,
}
ID_CARD_CHECKS = ("face", "name", "expiryDate")
# multiSessionAttempt: what a second browser or device opening the running attempt gets.
MULTI_SESSION_POLICIES = ("flag", "refuse")

CAPTURE_DEFAULTS = {
    "frameIntervalMs": 1000,
    "frameWidth": 320,
    "frameHeight": 240,
    "snapshotIntervalMs": 30000,
    "snapshotWidth": 640,
    "snapshotHeight": 480,
    "uploadIntervalMs": 5000,
    "audioSampleRate": 16000,
    # recordSession: the widget cuts its WebM recording into standalone segments this long.
    "recordingSegmentMs": 15000,
}


def widget_contract() -> dict:
    """What the widget must agree on with this module; /widget.js embeds it (sessions.widget_script)."""
    return {
        "eyeRequired": list(EYE_REQUIRED),
        "maxExamSeconds": MAX_EXAM_SECONDS,
        "trackingDefaults": dict(TRACKING_DEFAULTS),
        "captureDefaults": dict(CAPTURE_DEFAULTS),
    }


def autoproctor_attempt_key(test_attempt_id: str) -> str:
    """The session's attempt_id for an AutoProctor testAttemptId (unique per institution)."""
    return f"ap:{test_attempt_id}"


@dataclass
class StartRequest:
    dialect: str
    api_key: str
    attempt_id: str
    assessment_id: str
    assessment_title: str
    candidate_id: str
    candidate_email: str
    candidate_first_name: str
    candidate_last_name: str
    exam_seconds: int
    candidate_image_url: str = ""
    attempt_signature: str = ""
    # The widget's own random secret for this attempt; a resume must repeat it (or be signed).
    resume_secret: str = ""
    settings: dict = field(default_factory=dict)
    # The switches the page set explicitly (features for Eye, trackingOptions for AutoProctor):
    # requests, which rules_apply lets make monitoring stricter, never looser.
    asked: dict = field(default_factory=dict)


def _attempt_part(value: str) -> str:
    return value.replace("%", "%25").replace(":", "%3A")


def eye_attempt_id(assessment_id: str, candidate_id: str) -> str:
    """``eye:{assessmentId}:{candidateId}`` with ``%`` and ``:`` percent-escaped in each part.

    Escaping makes the id injective: ``("a:b", "c")`` and ``("a", "b:c")`` no
    longer name one attempt. It is also the message an integrator signs for
    ``attemptSignature`` (docs/widget.md).
    """
    return f"eye:{_attempt_part(assessment_id)}:{_attempt_part(candidate_id)}"


RESUME_SECRET_MIN, RESUME_SECRET_MAX = 16, 200


def parse_resume_secret(value) -> str:
    """The widget's resume secret: absent, or a string of 16 to 200 characters."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not RESUME_SECRET_MIN <= len(value) <= RESUME_SECRET_MAX:
        raise InvalidConfig(
            "Malformed: resumeSecret.",
            details={"fields": {"resumeSecret": "A string of 16 to 200 characters."}},
        )
    return value


class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, message)

    def raise_if_any(self) -> None:
        if self.fields:
            names = ", ".join(sorted(self.fields))
            raise InvalidConfig(f"Missing or malformed: {names}.", details={"fields": self.fields})


def _text(source: dict, name: str, errors: _Errors, *, required=True, max_length=200, label=None) -> str:
    label = label or name
    value = source.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(label, "This field is required.")
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        errors.add(label, "Must be a string.")
        return ""
    value = value.strip()
    if len(value) > max_length:
        errors.add(label, f"At most {max_length} characters.")
    if "\x00" in value:
        # PostgreSQL cannot store NUL in text; it is never part of a real name or id.
        errors.add(label, "Must not contain a NUL character.")
    return value


def _email(value: str, label: str, errors: _Errors) -> None:
    if value:
        try:
            EmailValidator()(value)
        except ValidationError:
            errors.add(label, "Not a valid e-mail address.")


def _url(value: str, label: str, errors: _Errors) -> None:
    if value:
        try:
            URLValidator(schemes=["https", "http"])(value)
        except ValidationError:
            errors.add(label, "Not a valid URL.")


def _bool(value, label: str, errors: _Errors, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.add(label, "Must be true or false.")
        return default
    return value


def parse_id_card_verification(value, errors: _Errors):
    """``idCardVerification``: false/null (off), true, or ``{face, name, expiryDate}`` booleans.

    Returns False or the object with all three keys. Only ``face`` is checked here (``name``
    and ``expiryDate`` need reading the card's text, which Proctorme does not do: they are
    kept and reported as not checked)."""
    label = "trackingOptions.idCardVerification"
    if value is None or value is False:
        return False
    if value is True:
        return {"face": True, "name": False, "expiryDate": False}
    if not isinstance(value, dict):
        errors.add(label, "Must be true, false or an object {face, name, expiryDate}.")
        return False
    checks = {}
    for key in ID_CARD_CHECKS:
        checks[key] = _bool(value.get(key), f"{label}.{key}", errors, False)
    if not any(checks.values()):
        return False
    # The card's photo is what the step is about: asking for name or expiry alone still
    # takes the photo and compares its face.
    checks["face"] = True
    return checks


def parse_eye(config) -> StartRequest:
    errors = _Errors()
    if not isinstance(config, dict):
        raise InvalidConfig(
            "The configuration must be an object.", details={"fields": {"config": "Must be an object."}}
        )
    values = {name: _text(config, name, errors) for name in EYE_REQUIRED_TEXT}
    _email(values["candidateEmail"], "candidateEmail", errors)
    duration = config.get("examDuration")
    if duration is None:
        errors.add("examDuration", "This field is required.")
    elif (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not 0 < duration <= MAX_EXAM_SECONDS
    ):
        errors.add("examDuration", f"Must be a number of seconds between 1 and {MAX_EXAM_SECONDS}.")
    image_url = _text(config, "candidateImageUrl", errors, required=False, max_length=1000)
    _url(image_url, "candidateImageUrl", errors)
    _text(config, "containerId", errors, required=False)
    signature = _text(config, "attemptSignature", errors, required=False, max_length=200)
    features = config.get("features")
    if features is None:
        features = {}
    elif not isinstance(features, dict):
        errors.add("features", "Must be an object.")
        features = {}
    ai = _bool(features.get("aiProctoring"), "features.aiProctoring", errors, True)
    face = _bool(features.get("facialRecognition"), "features.facialRecognition", errors, True)
    asked = {name: features[name] for name in ("aiProctoring", "facialRecognition") if name in features}
    errors.raise_if_any()
    tracking = {
        **TRACKING_DEFAULTS,
        "audio": ai,
        "numHumans": ai,
        "photosAtRandom": ai,
        "impersonation": face,
        "showCamPreview": bool(config.get("showCamPreview", False)),
    }
    return StartRequest(
        dialect="eye",
        api_key=values["apiKey"],
        attempt_id=eye_attempt_id(values["assessmentId"], values["candidateId"]),
        attempt_signature=signature,
        assessment_id=values["assessmentId"],
        assessment_title=values["assessmentTitle"],
        candidate_id=values["candidateId"],
        candidate_email=values["candidateEmail"],
        candidate_first_name=values["candidateFirstName"],
        candidate_last_name=values["candidateLastName"],
        exam_seconds=int(duration),
        candidate_image_url=image_url,
        settings={
            "features": {"aiProctoring": ai, "facialRecognition": face},
            "tracking": tracking,
            "capture": dict(CAPTURE_DEFAULTS),
            "institutionName": values["institutionName"],
        },
        asked=asked,
    )


def parse_autoproctor(credentials, options) -> StartRequest:
    errors = _Errors()
    credentials = credentials if isinstance(credentials, dict) else {}
    options = options if isinstance(options, dict) else {}
    client_id = _text(credentials, "clientId", errors)
    attempt = _text(credentials, "testAttemptId", errors, max_length=40)
    signature = _text(credentials, "hashedTestAttemptId", errors, max_length=200)
    raw_tracking = options.get("trackingOptions", options.get("track")) or {}
    if not isinstance(raw_tracking, dict):
        errors.add("trackingOptions", "Must be an object.")
        raw_tracking = {}
    tracking = dict(TRACKING_DEFAULTS)
    for name, default in TRACKING_DEFAULTS.items():
        if name not in raw_tracking:
            continue  # unknown keys are ignored, as AutoProctor does
        value = raw_tracking[name]
        if name == "idCardVerification":
            tracking[name] = parse_id_card_verification(value, errors)
        elif isinstance(default, bool):
            tracking[name] = _bool(value, f"trackingOptions.{name}", errors, default)
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 500:
            errors.add(f"trackingOptions.{name}", "Must be a whole number between 0 and 500.")
        else:
            tracking[name] = value
    if tracking["idCardVerification"]:
        tracking["testTakerPhoto"] = True  # AutoProctor: face matching turns testTakerPhoto on
    policy = options.get("multiSessionAttemptPolicy", "flag")
    if policy not in MULTI_SESSION_POLICIES:
        errors.add("multiSessionAttemptPolicy", "Use flag or refuse.")
        policy = "flag"
    container = _text(options, "testContainerId", errors, required=False)
    if tracking["forceFullScreen"] and not container:
        errors.add("testContainerId", "Required when forceFullScreen is on.")
    user = options.get("userDetails") or {}
    if not isinstance(user, dict):
        errors.add("userDetails", "Must be an object.")
        user = {}
    name = _text(user, "name", errors, required=False, label="userDetails.name")
    email = _text(user, "email", errors, required=False, label="userDetails.email")
    _email(email, "userDetails.email", errors)
    minutes = options.get("testDuration")
    if minutes is None:
        seconds = DEFAULT_AUTOPROCTOR_SECONDS
    elif (
        isinstance(minutes, bool)
        or not isinstance(minutes, int | float)
        or not 0 < minutes * 60 <= MAX_EXAM_SECONDS
    ):
        errors.add("testDuration", "Must be a number of minutes between 1 and 1440.")
        seconds = 0
    else:
        seconds = int(minutes * 60)
    # lookupKey is how AutoProctor's Moodle plugin names the quiz: it groups its attempts here.
    assessment_id = (
        _text(options, "assessmentId", errors, required=False)
        or _text(options, "lookupKey", errors, required=False)
        or "autoproctor"
    )
    assessment_title = _text(options, "assessmentTitle", errors, required=False, max_length=300)
    errors.raise_if_any()
    first, _, last = name.partition(" ")
    return StartRequest(
        dialect="autoproctor",
        api_key=client_id,
        attempt_id=autoproctor_attempt_key(attempt),
        attempt_signature=signature,
        assessment_id=assessment_id,
        assessment_title=assessment_title or "AutoProctor test",
        candidate_id=email or attempt,
        candidate_email=email,
        candidate_first_name=first,
        candidate_last_name=last,
        exam_seconds=seconds,
        settings={
            "features": {
                "aiProctoring": tracking["audio"] or tracking["numHumans"],
                "facialRecognition": tracking["impersonation"],
            },
            "tracking": tracking,
            "capture": dict(CAPTURE_DEFAULTS),
            "testAttemptId": attempt,
            "multiSessionAttemptPolicy": policy,
        },
        asked={
            **{name: tracking[name] for name in STRICT_SWITCHES if name in raw_tracking},
            # AutoProctor: idCardVerification's face check turns testTakerPhoto on.
            **({"testTakerPhoto": True} if tracking["idCardVerification"] else {}),
        },
    )


# --- the server decides the rules ---------------------------------------------------------

# AutoProctor switches that make monitoring stricter when on, with the detector each feeds.
STRICT_SWITCHES = {
    "audio": "SOUND_DETECTED",
    "numHumans": "MULTIPLE_FACE",
    "tabSwitch": "TAB_NOT_FOCUS",
    # Screen capture: off only where the institution or assessment disables its flag.
    "captureSwitchedTab": "SCREEN_NOT_SHARED",
    "photosAtRandom": "PERIODIC_SNAPSHOT",
    "detectMultipleScreens": "MULTIPLE_SCREENS",
    "impersonation": "FACE_MISMATCH",
    "forceFullScreen": None,
    "forceDesktop": None,
    "testTakerPhoto": None,
    "disableCopyPaste": None,
    "multiSessionAttempt": None,
    "auxiliaryDevice": None,
    "recordSession": None,
}
AI_DETECTORS = frozenset(
    {"FACE_ABSENCE", "MULTIPLE_FACE", "LOOKING_AWAY", "CAMERA_BLOCKED", "SOUND_DETECTED", "PERIODIC_SNAPSHOT"}
)


def _switch(asked, floor: bool) -> bool:
    """A page's request may turn a switch on; it is off only when the institution's floor is off."""
    return floor if asked is None else bool(asked) or floor


def rules_apply(request: StartRequest, *, disabled: set[str], assessment_seconds: int | None) -> int:
    """Fix the session's duration and detector switches from what the institution set.

    The page's config is unsigned and the candidate can edit it, so it may
    narrow the rules, never widen them: an assessment's duration caps the
    page's ``examDuration`` / ``testDuration``, and a detector runs unless the
    institution or assessment switched it off (``detector_settings.disabled``),
    whatever the page's ``features`` or ``trackingOptions`` say. The page may
    still turn on what is off by default (AutoProctor's ``impersonation``,
    ``forceFullScreen`` …). Updates ``request.settings`` and returns the
    exam's length in seconds.
    """
    seconds = request.exam_seconds
    if assessment_seconds:
        seconds = min(seconds, assessment_seconds)
    asked = request.asked
    if request.dialect == "eye":
        ai = _switch(asked.get("aiProctoring"), not disabled >= AI_DETECTORS)
        face = _switch(asked.get("facialRecognition"), "FACE_MISMATCH" not in disabled)
        request.settings["features"] = {"aiProctoring": ai, "facialRecognition": face}
        tracking = request.settings["tracking"]
        tracking.update(audio=ai, numHumans=ai, photosAtRandom=ai, impersonation=face)
        for name in ("tabSwitch", "captureSwitchedTab", "detectMultipleScreens"):
            tracking[name] = True
        if request.settings.get("launch") == "lti":
            # Set by the server for an LMS launch (never by a page): the quiz runs in the LMS's own
            # window, so leaving the proctoring page's tab is the expected path, not a violation.
            tracking["tabSwitch"] = tracking["captureSwitchedTab"] = False
    else:
        tracking = request.settings["tracking"]
        for name, detector in STRICT_SWITCHES.items():
            floor = TRACKING_DEFAULTS[name] and detector not in disabled
            tracking[name] = _switch(asked.get(name), floor)
        request.settings["features"] = {
            "aiProctoring": tracking["audio"] or tracking["numHumans"],
            "facialRecognition": tracking["impersonation"],
        }
    return seconds
