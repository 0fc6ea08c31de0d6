"""Every error code Proctorme answers with, in one registry.

Every refusal — from the widget API, the WebSocket or the REST API — carries
one of these codes; clients branch on the code, never on the message. Each
code has one HTTP status (``None`` for codes only sent as WebSocket error
frames) and one meaning, which is also the default message. docs/errors.md
lists them all; a test holds that table to this registry. The widget's own
browser-side codes (camera denied …) and AutoProctor's numbers are in
docs/widget.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

WIDGET, API, SOCKET, LTI = "widget", "api", "socket", "lti"


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int | None
    meaning: str
    surfaces: tuple[str, ...]


_CODES = (
    ErrorCode("ERROR", 400, "The request was refused.", (WIDGET, API)),
    # The widget's HTTP API (and the keys and domains it checks)
    ErrorCode("INVALID_CONFIG", 400, "The widget configuration is incomplete or malformed.", (WIDGET,)),
    ErrorCode(
        "INVALID_MEDIA", 400, "The uploaded media is corrupt, truncated or of the wrong type.", (WIDGET,)
    ),
    ErrorCode(
        "INVALID_API_KEY",
        401,
        "The API key is unknown, revoked, expired or of the wrong kind.",
        (WIDGET, API),
    ),
    ErrorCode("INVALID_TOKEN", 401, "The session token is missing, malformed or expired.", (WIDGET, SOCKET)),
    ErrorCode(
        "DOMAIN_NOT_REGISTERED",
        403,
        "The page's origin is not a registered domain of this institution.",
        (WIDGET,),
    ),
    ErrorCode(
        "ORIGIN_REQUIRED",
        403,
        "The request carries no Origin header; the widget only works from a web page.",
        (WIDGET,),
    ),
    ErrorCode(
        "INVALID_ATTEMPT_SIGNATURE",
        403,
        "hashedTestAttemptId is not the HMAC-SHA256 of testAttemptId with the institution's secret key.",
        (WIDGET,),
    ),
    ErrorCode("SESSION_ENDED", 409, "This attempt has already ended; a new one cannot start.", (WIDGET,)),
    ErrorCode(
        "ATTEMPT_IN_USE",
        409,
        "This attempt is running in another browser; only that browser (or a server-signed attempt) may resume it.",
        (WIDGET,),
    ),
    ErrorCode(
        "INVALID_REPORT_CREDENTIAL",
        401,
        "The report credential is malformed, expired or for another attempt.",
        (WIDGET,),
    ),
    ErrorCode(
        "REPORT_NOT_AVAILABLE",
        403,
        "This report needs a report credential from the institution's server "
        "(or, where the institution allows it, the attempt's own credentials once the attempt has ended).",
        (WIDGET,),
    ),
    ErrorCode("MEDIA_TOO_LARGE", 413, "The upload is larger than the widget ever sends.", (WIDGET,)),
    ErrorCode(
        "OPTION_NOT_ENABLED",
        409,
        "This attempt was not started with the option this endpoint serves (idCardVerification, auxiliaryDevice).",
        (WIDGET,),
    ),
    ErrorCode(
        "ID_CARD_ATTEMPTS_USED",
        409,
        "The photo-ID step is over for this attempt: it passed, or every try was used.",
        (WIDGET,),
    ),
    ErrorCode(
        "INVALID_PAIRING",
        404,
        "The phone-pairing code or device secret is unknown, used, expired or for an attempt that has ended.",
        (WIDGET,),
    ),
    ErrorCode("METHOD_NOT_ALLOWED", 405, "This endpoint does not answer that HTTP method.", (WIDGET, API)),
    # The integrator REST API
    ErrorCode("VALIDATION_ERROR", 400, "A body field or query parameter is invalid or unknown.", (API,)),
    ErrorCode("MALFORMED_REQUEST", 400, "The body is not valid JSON.", (API,)),
    ErrorCode("WEBHOOK_URL_NOT_ALLOWED", 400, "The webhook URL is not allowed.", (API,)),
    ErrorCode(
        "AUTHENTICATION_REQUIRED", 401, 'Send your secret key as "Authorization: Bearer sk_…".', (API,)
    ),
    ErrorCode("PERMISSION_DENIED", 403, "Permission denied.", (API,)),
    ErrorCode("NOT_FOUND", 404, "Not found.", (API,)),
    ErrorCode("NOT_ACCEPTABLE", 406, "The Accept header excludes JSON.", (API,)),
    ErrorCode("ALREADY_EXISTS", 409, "An object with this external id already exists.", (API,)),
    ErrorCode("SESSION_ALREADY_ENDED", 409, "The session has already ended.", (API,)),
    ErrorCode("SESSION_PAUSED", 409, "The session is paused; resume it first.", (API,)),
    ErrorCode("SESSION_NOT_PAUSED", 409, "The session is not paused.", (API,)),
    ErrorCode(
        "CANDIDATE_SESSION_RUNNING",
        409,
        "The candidate has a session running or finalising; end it before erasing their data.",
        (API,),
    ),
    ErrorCode("UNSUPPORTED_MEDIA_TYPE", 415, "The body is not application/json.", (API,)),
    ErrorCode(
        "RATE_LIMITED", 429, "Too many requests or messages; slow down and retry.", (WIDGET, API, SOCKET)
    ),
    ErrorCode("INTERNAL_ERROR", 500, "Something went wrong on our side; it has been logged.", (API,)),
    ErrorCode(
        "SERVICE_UNAVAILABLE",
        503,
        "The database is unreachable for a moment; retry after the Retry-After seconds.",
        (WIDGET, API),
    ),
    # LMS launches and services (sessions/lti, docs/lms.md)
    ErrorCode("LTI_ERROR", 400, "The LMS message was refused.", (LTI,)),
    ErrorCode(
        "LTI_UNKNOWN_REGISTRATION",
        403,
        "No active LMS registration of this institution has this issuer and client id.",
        (LTI,),
    ),
    ErrorCode(
        "LTI_INVALID_TOKEN",
        400,
        "The id_token is missing or is not a well-formed RS256 JWT naming its key.",
        (LTI,),
    ),
    ErrorCode(
        "LTI_BAD_SIGNATURE",
        403,
        "The id_token's signature does not verify against the platform's keys.",
        (LTI,),
    ),
    ErrorCode(
        "LTI_UNKNOWN_KID",
        403,
        "The id_token names a key (kid) the platform's JWKS does not publish, even after a refresh.",
        (LTI,),
    ),
    ErrorCode("LTI_TOKEN_EXPIRED", 403, "The id_token has expired or is not yet valid.", (LTI,)),
    ErrorCode(
        "LTI_INVALID_STATE",
        403,
        "The login state is unknown or expired: open the activity in the LMS again.",
        (LTI,),
    ),
    ErrorCode("LTI_REPLAYED", 403, "This launch (state and nonce) was already used.", (LTI,)),
    ErrorCode("LTI_WRONG_AUDIENCE", 403, "The id_token is not addressed to this tool's client id.", (LTI,)),
    ErrorCode("LTI_WRONG_DEPLOYMENT", 403, "The deployment id is not one of this registration's.", (LTI,)),
    ErrorCode("LTI_MISSING_CLAIM", 400, "A claim the message type requires is missing or malformed.", (LTI,)),
    ErrorCode(
        "LTI_UNSUPPORTED_MESSAGE",
        400,
        "The message type or LTI version is not supported by this tool.",
        (LTI,),
    ),
    ErrorCode(
        "LTI_REGISTRATION_REFUSED",
        400,
        "The LMS's dynamic registration data is incomplete or inconsistent.",
        (LTI,),
    ),
    ErrorCode("LTI_NOT_INSTRUCTOR", 403, "Only instructors and LMS administrators may do this.", (LTI,)),
    ErrorCode("LTI_UNKNOWN_ATTEMPT", 404, "No proctored attempt matches this message.", (LTI,)),
    ErrorCode(
        "LTI_NOT_READY",
        409,
        "The consent and system check have not been completed for this attempt.",
        (LTI,),
    ),
    ErrorCode(
        "LTI_SERVICE_NOT_OFFERED",
        409,
        "The LMS did not offer this service or action for the attempt.",
        (LTI, API),
    ),
    ErrorCode(
        "LTI_PLATFORM_UNREACHABLE", 502, "The LMS's keyset or service did not answer usably.", (LTI, API)
    ),
    # WebSocket error frames (the connection stays open)
    ErrorCode("INVALID_MESSAGE", None, "The message is not a JSON object of a known type.", (SOCKET,)),
    ErrorCode("BAD_SEQUENCE", None, "seq must be a positive integer.", (SOCKET,)),
    ErrorCode("UNKNOWN_EVENT", None, "The signal names an event the server does not know.", (SOCKET,)),
)

REGISTRY: dict[str, ErrorCode] = {error.code: error for error in _CODES}


def error_code(code: str) -> ErrorCode:
    """The registered code; a KeyError for one nobody registered, so no code is made up in passing."""
    try:
        return REGISTRY[code]
    except KeyError:
        raise KeyError(f"{code!r} is not in proctorme.errors.REGISTRY") from None


class ProctormeError(Exception):
    """A refusal with a registered code; its status comes from the registry."""

    code: ClassVar[str] = "ERROR"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        error_code(cls.code)

    def __init__(self, message: str = "", *, code: str | None = None, details=None):
        if code:
            self.code = code
        self.error = error_code(self.code)
        self.message = message or self.error.meaning
        super().__init__(self.message)
        self.details = details or {}

    @property
    def status(self) -> int:
        return self.error.status or 400

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "details": self.details}


def error_body(code: str, message: str = "", details: dict | None = None) -> dict:
    """The one error shape of every HTTP answer: ``{"error": {"code", "message", "details"}}``."""
    meaning = error_code(code).meaning
    return {"error": {"code": code, "message": message or meaning, "details": details or {}}}


class InvalidApiKey(ProctormeError):
    code = "INVALID_API_KEY"


class DomainNotRegistered(ProctormeError):
    code = "DOMAIN_NOT_REGISTERED"


class OriginRequired(ProctormeError):
    code = "ORIGIN_REQUIRED"


class InvalidSignature(ProctormeError):
    code = "INVALID_ATTEMPT_SIGNATURE"


class InvalidConfig(ProctormeError):
    code = "INVALID_CONFIG"


class SessionEnded(ProctormeError):
    code = "SESSION_ENDED"


class InvalidToken(ProctormeError):
    code = "INVALID_TOKEN"


class InvalidMedia(ProctormeError):
    code = "INVALID_MEDIA"


class MethodNotAllowed(ProctormeError):
    code = "METHOD_NOT_ALLOWED"


class AttemptInUse(ProctormeError):
    code = "ATTEMPT_IN_USE"


class InvalidReportCredential(ProctormeError):
    code = "INVALID_REPORT_CREDENTIAL"


class ReportNotAvailable(ProctormeError):
    code = "REPORT_NOT_AVAILABLE"


class OptionNotEnabled(ProctormeError):
    code = "OPTION_NOT_ENABLED"


class IdCardAttemptsUsed(ProctormeError):
    code = "ID_CARD_ATTEMPTS_USED"


class InvalidPairing(ProctormeError):
    code = "INVALID_PAIRING"


class RateLimited(ProctormeError):
    code = "RATE_LIMITED"


class SessionNotRunning(ProctormeError):
    """A live intervention on a session that has ended (sessions.intervention)."""

    code = "SESSION_ALREADY_ENDED"


class CandidateSessionRunning(ProctormeError):
    """An erasure while the candidate's session still runs (sessions.privacy)."""

    code = "CANDIDATE_SESSION_RUNNING"


class SessionPaused(ProctormeError):
    code = "SESSION_PAUSED"


class SessionNotPaused(ProctormeError):
    code = "SESSION_NOT_PAUSED"
