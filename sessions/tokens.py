"""Short-lived signed tokens that bind a widget to one session and one page origin."""

from __future__ import annotations

import time

from django.conf import settings
from django.core import signing

from proctorme.errors import InvalidToken

_SALT = "proctorme.widget-session.v1"


def session_token_make(*, session, origin: str, ttl_seconds: int | None = None) -> str:
    ttl = ttl_seconds or settings.PROCTORME_TOKEN_TTL
    if session.deadline_at:
        # A long exam keeps its token until a while after its own end.
        ttl = max(ttl, int(session.deadline_at.timestamp() - time.time()) + 3600)
    return signing.dumps({"s": str(session.public_id), "o": origin, "x": int(time.time()) + ttl}, salt=_SALT)


def session_token_read(token: str | None) -> dict:
    """Return ``{"session": public_id, "origin": origin}`` or raise InvalidToken."""
    if not token:
        raise InvalidToken("No session token was given.")
    try:
        data = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        raise InvalidToken() from None
    if not isinstance(data, dict) or data.get("x", 0) < time.time():
        raise InvalidToken("The session token has expired.")
    return {"session": data["s"], "origin": data["o"]}
