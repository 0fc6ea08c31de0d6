"""Keyset ("cursor") pagination that stays stable while rows are inserted.

A page is "rows strictly after the last one you saw" in a total order
(``sort field, public_id``), so a row inserted meanwhile never shifts a page
boundary: it is either before the cursor (not repeated) or after it (seen
once). The cursor is opaque to clients (base64 of the last row's key) and is
only ever applied inside the caller's institution-scoped queryset.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None


def _encode(value: datetime, public_id: uuid.UUID) -> str:
    raw = json.dumps([value.isoformat(), str(public_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, public_id = json.loads(raw)
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, uuid.UUID(public_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError, RecursionError):
        raise ValidationError(
            {"cursor": ["This cursor is not valid; use one returned by the API."]}
        ) from None


def keyset_page(queryset: QuerySet, *, field: str, descending: bool, cursor: str | None, limit: int) -> Page:
    if descending:
        ordered = queryset.order_by(f"-{field}", "-public_id")
    else:
        ordered = queryset.order_by(field, "public_id")
    if cursor:
        value, public_id = _decode(cursor)
        op = "lt" if descending else "gt"
        ordered = ordered.filter(
            Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"public_id__{op}": public_id})
        )
    rows = list(ordered[: limit + 1])
    items = rows[:limit]
    next_cursor = _encode(getattr(items[-1], field), items[-1].public_id) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)
