"""Stable error codes shared by the widget API, the WebSocket and the REST API.

Every refusal carries one of these codes; clients branch on the code, never
on the message. The widget's codes are documented in docs/widget.md next to
AutoProctor's numeric ones.
"""

from __future__ import annotations


class ProctormeError(Exception):
    code = "ERROR"
    status = 400

    def __init__(
        self, message: str = "", *, code: str | None = None, status: int | None = None, details=None
    ):
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidApiKey(ProctormeError):
    """The API key is unknown, revoked, expired or of the wrong kind."""

    code = "INVALID_API_KEY"
    status = 401


class DomainNotRegistered(ProctormeError):
    """The page's origin is not a registered domain of this institution."""

    code = "DOMAIN_NOT_REGISTERED"
    status = 403


class OriginRequired(ProctormeError):
    """The request carries no Origin header; the widget only works from a web page."""

    code = "ORIGIN_REQUIRED"
    status = 403


class InvalidSignature(ProctormeError):
    """hashedTestAttemptId is not the HMAC-SHA256 of testAttemptId with the institution's secret key."""

    code = "INVALID_ATTEMPT_SIGNATURE"
    status = 403


class InvalidConfig(ProctormeError):
    """The widget configuration is incomplete or malformed."""

    code = "INVALID_CONFIG"
    status = 400


class SessionEnded(ProctormeError):
    """This attempt has already ended; a new one cannot start."""

    code = "SESSION_ENDED"
    status = 409


class InvalidToken(ProctormeError):
    """The session token is missing, malformed or expired."""

    code = "INVALID_TOKEN"
    status = 401


class InvalidMedia(ProctormeError):
    """The uploaded media is corrupt, truncated or of the wrong type."""

    code = "INVALID_MEDIA"
    status = 400


class AttemptInUse(ProctormeError):
    """This attempt is running in another browser; only that browser (or a server-signed attempt) may resume it."""

    code = "ATTEMPT_IN_USE"
    status = 409
