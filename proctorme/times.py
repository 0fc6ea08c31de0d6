"""Times as every interface renders them, and times a client sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

# A client clock further off than this is not trusted: the server's time is kept.
CLIENT_CLOCK_TOLERANCE = timedelta(hours=24)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, as the widget protocol, the REST API, reports and webhooks show times."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def client_time(value, fallback: datetime) -> datetime:
    """A time the widget sent (ISO text), never later than ``fallback`` (now); ``fallback`` when unusable:
    missing, malformed, impossible (``2024-13-45``, an offset of 99 hours) or too far off."""
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = parse_datetime(value)
            if parsed is not None and timezone.is_naive(parsed):
                parsed = timezone.make_aware(parsed, UTC)
            # Subtracting can overflow for a date near the limits with an offset.
            if parsed is not None and abs(parsed - fallback) < CLIENT_CLOCK_TOLERANCE:
                return min(parsed, fallback)
        except (ValueError, OverflowError):
            pass
    return fallback
