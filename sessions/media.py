"""Evidence media: never a public folder, only short-lived signed URLs.

A signed URL names one MediaChunk by its public id and carries an expiry; the
view re-reads the chunk, so a deleted chunk (retention) is gone at once. The
widget fetches these cross-origin (``mediaFile`` in flag payloads), so the
view answers CORS for the chunk's institution's registered origins only.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from sessions.models import MediaChunk
from tenants.services import origin_allowed

_SALT = "proctorme.media.v1"
DEFAULT_TTL = 15 * 60


def media_signed_url(chunk: MediaChunk, *, ttl_seconds: int = DEFAULT_TTL, absolute: bool = True) -> str:
    token = signing.dumps({"m": str(chunk.public_id), "x": int(time.time()) + ttl_seconds}, salt=_SALT)
    path = reverse("media-signed", args=[token])
    return f"{settings.SITE_URL}{path}" if absolute else path


def media_token_read(token: str) -> str:
    try:
        data = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        raise Http404("Invalid or expired link.") from None
    if not isinstance(data, dict) or data.get("x", 0) < time.time():
        raise Http404("Invalid or expired link.")
    return data["m"]


def media_response(chunk: MediaChunk, *, max_age: int = 300) -> HttpResponse:
    # Chunks are small (at most 1 MB): read them whole, which also avoids
    # streaming a synchronous file iterator under ASGI.
    try:
        with chunk.file.open("rb") as handle:
            content = handle.read()
    except (FileNotFoundError, ValueError):
        raise Http404("The file is gone.") from None
    response = HttpResponse(content, content_type=chunk.content_type)
    response["Cache-Control"] = f"private, max-age={max_age}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = (
        f'inline; filename="{chunk.kind}-{chunk.seq}{_suffix(chunk.content_type)}"'
    )
    return response


def _suffix(content_type: str) -> str:
    return {"image/jpeg": ".jpg", "audio/wav": ".wav", "audio/x-wav": ".wav"}.get(content_type, "")


@require_GET
def media_signed_view(request, token: str):
    public_id = media_token_read(token)
    chunk = MediaChunk.objects.select_related("institution").filter(public_id=public_id).first()
    if chunk is None:
        raise Http404("The file is gone.")
    response = media_response(chunk)
    origin = request.headers.get("Origin")
    if origin and origin_allowed(institution=chunk.institution, origin=origin):
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response
