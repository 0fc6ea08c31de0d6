"""The LTI layer's refusals; their codes, statuses and meanings are in proctorme.errors.REGISTRY."""

from __future__ import annotations

from proctorme.errors import ProctormeError


class LtiError(ProctormeError):
    code = "LTI_ERROR"


class LtiUnknownRegistration(LtiError):
    code = "LTI_UNKNOWN_REGISTRATION"


class LtiInvalidToken(LtiError):
    code = "LTI_INVALID_TOKEN"


class LtiBadSignature(LtiError):
    code = "LTI_BAD_SIGNATURE"


class LtiUnknownKid(LtiError):
    code = "LTI_UNKNOWN_KID"


class LtiTokenExpired(LtiError):
    code = "LTI_TOKEN_EXPIRED"


class LtiInvalidState(LtiError):
    code = "LTI_INVALID_STATE"


class LtiReplayed(LtiError):
    code = "LTI_REPLAYED"


class LtiWrongAudience(LtiError):
    code = "LTI_WRONG_AUDIENCE"


class LtiWrongDeployment(LtiError):
    code = "LTI_WRONG_DEPLOYMENT"


class LtiMissingClaim(LtiError):
    code = "LTI_MISSING_CLAIM"


class LtiUnsupportedMessage(LtiError):
    code = "LTI_UNSUPPORTED_MESSAGE"


class LtiNotInstructor(LtiError):
    code = "LTI_NOT_INSTRUCTOR"


class LtiUnknownAttempt(LtiError):
    code = "LTI_UNKNOWN_ATTEMPT"


class LtiNotReady(LtiError):
    code = "LTI_NOT_READY"


class LtiServiceNotOffered(LtiError):
    code = "LTI_SERVICE_NOT_OFFERED"


class LtiPlatformUnreachable(LtiError):
    code = "LTI_PLATFORM_UNREACHABLE"


class LtiRegistrationRefused(LtiError):
    code = "LTI_REGISTRATION_REFUSED"
