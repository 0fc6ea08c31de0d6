"""LTI 1.3 core: OIDC third-party login initiation and id_token validation.

The order of the checks is the security argument, so it is written down:

1. the ``state`` must be one we issued for this institution, unexpired and
   unused (LTI_INVALID_STATE / LTI_REPLAYED);
2. the token must be an RS256 JWT naming its key (LTI_INVALID_TOKEN), issued
   by the registration the state was made for (LTI_UNKNOWN_REGISTRATION) and
   addressed to its client id (LTI_WRONG_AUDIENCE);
3. the signature must verify against that platform's JWKS, fetched again
   once for an unknown kid (LTI_BAD_SIGNATURE / LTI_UNKNOWN_KID), with exp
   and iat checked (LTI_TOKEN_EXPIRED);
4. its ``nonce`` must be the one sent with that state, and the state is
   marked used in the same statement that checks it was unused, so a token
   can be launched once (LTI_REPLAYED);
5. version, message type, deployment and the claims the message type needs
   (LTI_UNSUPPORTED_MESSAGE / LTI_WRONG_DEPLOYMENT / LTI_MISSING_CLAIM).

Nothing is created before all of them pass.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import jwt
from django.conf import settings
from django.utils import timezone

from sessions.lti import errors
from sessions.lti.models import LtiLoginState, LtiRegistration
from sessions.lti.platform_keys import platform_key
from tenants.models import Institution

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LTI_AP = "https://purl.imsglobal.org/spec/lti-ap/claim/"
LTI_DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
LTI_AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/"
MESSAGE_TYPES = {"LtiResourceLinkRequest", "LtiStartProctoring", "LtiEndAssessment", "LtiDeepLinkingRequest"}
LEEWAY_SECONDS = 60


@dataclass
class Launch:
    registration: LtiRegistration
    claims: dict

    @property
    def message_type(self) -> str:
        return self.claims[LTI + "message_type"]

    @property
    def deployment_id(self) -> str:
        return self.claims[LTI + "deployment_id"]

    @property
    def roles(self) -> list[str]:
        return self.claims.get(LTI + "roles", [])

    def claim(self, name: str, default=None):
        return self.claims.get(name, default)


def _registration_for(*, institution: Institution, issuer: str, client_id: str | None) -> LtiRegistration:
    candidates = LtiRegistration.objects.filter(institution=institution, issuer=issuer, is_active=True)
    if client_id:
        candidates = candidates.filter(client_id=client_id)
    found = list(candidates[:2])
    if len(found) != 1:
        # None, or several with this issuer and no client_id to tell them apart.
        raise errors.LtiUnknownRegistration(details={"iss": issuer, "client_id": client_id or ""})
    return found[0]


def lti_login_start(*, institution: Institution, params: dict, redirect_uri: str) -> str:
    """OIDC login initiation: remember a fresh state and nonce; return the platform's auth URL."""
    issuer = params.get("iss") or ""
    login_hint = params.get("login_hint") or ""
    target = params.get("target_link_uri") or ""
    if not issuer or not login_hint or not target:
        missing = [name for name in ("iss", "login_hint", "target_link_uri") if not params.get(name)]
        raise errors.LtiMissingClaim("The login initiation is incomplete.", details={"missing": missing})
    registration = _registration_for(
        institution=institution, issuer=issuer, client_id=params.get("client_id")
    )
    deployment = params.get("lti_deployment_id")
    if deployment and deployment not in registration.deployment_ids:
        raise errors.LtiWrongDeployment(details={"deployment_id": deployment})
    # Logins never completed (or long used) are of no further use: keep the table small.
    LtiLoginState.objects.filter(
        created_at__lt=timezone.now() - timedelta(seconds=2 * settings.LTI_STATE_TTL)
    ).delete()
    state = LtiLoginState.objects.create(
        institution=institution,
        registration=registration,
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        target_link_uri=target[:1000],
    )
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": registration.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": login_hint,
        "state": state.state,
        "nonce": state.nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in registration.auth_login_url else "?"
    return registration.auth_login_url + separator + urlencode(query)


def _decode(token: str, registration: LtiRegistration, key) -> dict:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=registration.client_id,
            issuer=registration.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
    except jwt.InvalidSignatureError:
        raise errors.LtiBadSignature() from None
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
        raise errors.LtiTokenExpired() from None
    except jwt.InvalidAudienceError:
        raise errors.LtiWrongAudience(details={"expected": registration.client_id}) from None
    except jwt.InvalidIssuerError:
        raise errors.LtiUnknownRegistration() from None
    except jwt.MissingRequiredClaimError as error:
        raise errors.LtiMissingClaim(details={"claim": error.claim}) from None
    except jwt.PyJWTError:
        raise errors.LtiInvalidToken() from None


def _require(claims: dict, name: str, kind: type | tuple[type, ...] = str):
    value = claims.get(name)
    if value is None or not isinstance(value, kind) or isinstance(value, bool) or value == "":
        raise errors.LtiMissingClaim(f"The claim {name} is missing or malformed.", details={"claim": name})
    return value


def _check_message(claims: dict) -> None:
    if claims.get(LTI + "version") != "1.3.0":
        raise errors.LtiUnsupportedMessage(details={"version": claims.get(LTI + "version")})
    message_type = claims.get(LTI + "message_type")
    if message_type not in MESSAGE_TYPES:
        raise errors.LtiUnsupportedMessage(details={"message_type": message_type})
    _require(claims, "sub")
    _require(claims, LTI + "roles", list)
    if message_type in {"LtiResourceLinkRequest", "LtiStartProctoring", "LtiEndAssessment"}:
        link = _require(claims, LTI + "resource_link", dict)
        _require(link, "id")
    if message_type in {"LtiStartProctoring", "LtiEndAssessment"}:
        _require(claims, LTI_AP + "attempt_number", int)
    if message_type == "LtiStartProctoring":
        _require(claims, LTI_AP + "session_data")
        _require(claims, LTI_AP + "start_assessment_url")
    if message_type == "LtiDeepLinkingRequest":
        dl = _require(claims, LTI_DL + "deep_linking_settings", dict)
        _require(dl, "deep_link_return_url")


def lti_launch_validate(*, institution: Institution, id_token: str, state: str) -> Launch:
    """Validate a launch (see the module docstring for the order); nothing is written before it passes."""
    if not state:
        raise errors.LtiInvalidState()
    login = (
        LtiLoginState.objects.select_related("registration")
        .filter(institution=institution, state=state)
        .first()
    )
    if login is None:
        raise errors.LtiInvalidState()
    if login.used_at is not None:
        raise errors.LtiReplayed()
    if login.created_at < timezone.now() - timedelta(seconds=settings.LTI_STATE_TTL):
        raise errors.LtiInvalidState("The login expired: start again from the LMS.")
    registration = login.registration
    if not registration.is_active:
        raise errors.LtiUnknownRegistration()
    if not id_token:
        raise errors.LtiInvalidToken("No id_token was posted.")
    try:
        header = jwt.get_unverified_header(id_token)
        unverified = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise errors.LtiInvalidToken() from None
    if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
        raise errors.LtiInvalidToken("The id_token must be RS256 and name its key (kid).")
    if unverified.get("iss") != registration.issuer:
        raise errors.LtiUnknownRegistration(details={"iss": unverified.get("iss")})
    audience = unverified.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if registration.client_id not in audiences:
        raise errors.LtiWrongAudience(details={"expected": registration.client_id})
    if len(audiences) > 1 and unverified.get("azp") != registration.client_id:
        raise errors.LtiWrongAudience("Several audiences and azp is not this tool.")
    key = platform_key(registration=registration, kid=header["kid"])
    claims = _decode(id_token, registration, key)
    if claims.get("nonce") != login.nonce:
        raise errors.LtiReplayed("The nonce is not the one sent with this login.")
    if claims.get(LTI + "deployment_id") not in registration.deployment_ids:
        raise errors.LtiWrongDeployment(details={"deployment_id": claims.get(LTI + "deployment_id")})
    _check_message(claims)
    used = LtiLoginState.objects.filter(pk=login.pk, used_at__isnull=True).update(used_at=timezone.now())
    if not used:
        raise errors.LtiReplayed()
    return Launch(registration=registration, claims=claims)
