"""The platform's public keys: its JWKS, cached, fetched again when a token names an unknown kid."""

from __future__ import annotations

import hashlib
import json
import time

import jwt
from django.conf import settings
from django.core.cache import cache

from sessions.lti.errors import LtiPlatformUnreachable, LtiUnknownKid
from sessions.lti.http import lti_fetch
from sessions.lti.models import LtiRegistration


def _cache_key(registration: LtiRegistration) -> str:
    url = hashlib.sha256(registration.key_set_url.encode()).hexdigest()[:16]
    return f"lti:jwks:{registration.public_id}:{url}"


def _fetch(registration: LtiRegistration) -> dict:
    result = lti_fetch("GET", registration.key_set_url, headers={"Accept": "application/json"})
    try:
        data = json.loads(result.body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if result.status != 200 or not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise LtiPlatformUnreachable(
            "The platform's keyset URL did not answer with a JWKS.",
            details={"url": registration.key_set_url, "status": result.status},
        )
    entry = {"jwks": data, "fetched": time.time()}
    cache.set(_cache_key(registration), entry, settings.LTI_JWKS_CACHE_SECONDS)
    return entry


def _find(jwks: dict, kid: str):
    for item in jwks.get("keys", []):
        if isinstance(item, dict) and item.get("kid") == kid and item.get("kty") == "RSA":
            try:
                return jwt.PyJWK.from_dict(item, algorithm="RS256").key
            except jwt.PyJWTError:
                return None
    return None


def platform_key(*, registration: LtiRegistration, kid: str):
    """The RSA public key ``kid`` of the platform; an unknown kid refreshes the cached JWKS once."""
    entry = cache.get(_cache_key(registration)) or _fetch(registration)
    key = _find(entry["jwks"], kid)
    if key is None and time.time() - entry["fetched"] >= settings.LTI_JWKS_MIN_REFRESH_SECONDS:
        # The platform may have rotated its keys since we cached them.
        key = _find(_fetch(registration)["jwks"], kid)
    if key is None:
        raise LtiUnknownKid(details={"kid": kid})
    return key
