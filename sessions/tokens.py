"""Short-lived signed tokens that bind a widget to one session, one page origin and one key.

The key's id is in the token so that revoking the key (or its expiry) ends
every token it issued at once: each use checks that the key is still active
(``session_token_authorise``)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core import signing

from proctorme.errors import InvalidToken

_SALT = "proctorme.widget-session.v1"


def session_token_make(*, session, origin: str, api_key=None, ttl_seconds: int | None = None) -> str:
    """``api_key``: the publishable key the session was started with (None for an LMS launch,
    whose ticket is checked instead)."""
    ttl = ttl_seconds or settings.PROCTORME_TOKEN_TTL
    if session.deadline_at:
        # A long exam keeps its token until a while after its own end.
        ttl = max(ttl, int(session.deadline_at.timestamp() - time.time()) + 3600)
    claims = {
        "s": str(session.public_id),
        "o": origin,
        "k": str(api_key.public_id) if api_key else "",
        "x": int(time.time()) + ttl,
    }
    return signing.dumps(claims, salt=_SALT)


def session_token_read(token: str | None) -> dict:
    """Return ``{"session": public_id, "origin": origin, "key": key public_id}`` or raise InvalidToken."""
    if not token:
        raise InvalidToken("No session token was given.")
    try:
        data = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        raise InvalidToken() from None
    if not isinstance(data, dict) or not {"s", "o", "k", "x"} <= data.keys():
        raise InvalidToken()
    if data["x"] < time.time():
        raise InvalidToken("The session token has expired.")
    return {"session": data["s"], "origin": data["o"], "key": data["k"]}


def session_token_key_check(claims: dict) -> None:
    """Raise InvalidToken when the key that issued the token is revoked or expired (a revocation
    is seen within ``tenants.services.TENANT_CACHE_SECONDS``, at once in the revoking process)."""
    from tenants.services import api_key_active

    if not claims["key"]:
        return  # an LMS launch: no key issued it
    if not api_key_active(claims["key"]):
        raise InvalidToken("The key this session was started with has been revoked.")
