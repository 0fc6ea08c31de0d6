"""Stable codes for every LTI refusal. A refused launch starts nothing."""

from __future__ import annotations

from proctorme.errors import ProctormeError


class LtiError(ProctormeError):
    """The LTI message was refused."""

    code = "LTI_ERROR"
    status = 400


class LtiUnknownRegistration(LtiError):
    """No active LMS registration of this institution has this issuer and client id."""

    code = "LTI_UNKNOWN_REGISTRATION"
    status = 403


class LtiInvalidToken(LtiError):
    """The id_token is missing or is not a well-formed RS256 JWT."""

    code = "LTI_INVALID_TOKEN"


class LtiBadSignature(LtiError):
    """The id_token's signature does not verify against the platform's keys."""

    code = "LTI_BAD_SIGNATURE"
    status = 403


class LtiUnknownKid(LtiError):
    """The id_token names a key (kid) the platform's JWKS does not publish, even after a refresh."""

    code = "LTI_UNKNOWN_KID"
    status = 403


class LtiTokenExpired(LtiError):
    """The id_token has expired (or is not yet valid)."""

    code = "LTI_TOKEN_EXPIRED"
    status = 403


class LtiInvalidState(LtiError):
    """The state is unknown or expired: start the launch again from the LMS."""

    code = "LTI_INVALID_STATE"
    status = 403


class LtiReplayed(LtiError):
    """This launch (state and nonce) was already used."""

    code = "LTI_REPLAYED"
    status = 403


class LtiWrongAudience(LtiError):
    """The id_token is not addressed to this tool's client id."""

    code = "LTI_WRONG_AUDIENCE"
    status = 403


class LtiWrongDeployment(LtiError):
    """The deployment id is not one of this registration's."""

    code = "LTI_WRONG_DEPLOYMENT"
    status = 403


class LtiMissingClaim(LtiError):
    """A claim the message type requires is missing or malformed."""

    code = "LTI_MISSING_CLAIM"


class LtiUnsupportedMessage(LtiError):
    """The message type or LTI version is not supported by this tool."""

    code = "LTI_UNSUPPORTED_MESSAGE"


class LtiPlatformUnreachable(LtiError):
    """The platform's keyset or service did not answer usably."""

    code = "LTI_PLATFORM_UNREACHABLE"
    status = 502


class LtiNotReady(LtiError):
    """The consent and system check have not been completed for this attempt."""

    code = "LTI_NOT_READY"
    status = 409


class LtiServiceNotOffered(LtiError):
    """The platform did not offer this service (or this action) for the attempt."""

    code = "LTI_SERVICE_NOT_OFFERED"
    status = 409
