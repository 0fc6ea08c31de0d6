"""HTTP endpoints of AutoProctor's idCardVerification and auxiliaryDevice.

The exam page's widget (session token, its page's origin): the photo-ID try, a phone pairing,
the phone's state. The phone (served by this server, same origin): its page, the claim of a
pairing, side-view frame uploads and heartbeats with its device secret.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from proctorme.errors import InvalidMedia, InvalidPairing
from proctorme.times import iso
from sessions.aux import (
    FRAME_INTERVAL_MS,
    HEARTBEAT_INTERVAL_MS,
    aux_device_from_secret,
    aux_pairing_claim,
    aux_pairing_create,
    aux_pairing_peek,
    aux_qr_svg,
    aux_seen,
    aux_status,
)
from sessions.idcard import id_card_check
from sessions.uploads import media_store, parse_upload
from sessions.widget_views import session_from_token, widget_post


def _bearer(request) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:] if header.startswith("Bearer ") else ""


# --- the exam page's widget ----------------------------------------------------------------


@widget_post
def id_card_view(request, session_id):
    session = session_from_token(request, session_id)
    card = request.FILES.get("card")
    if card is None:
        raise InvalidMedia("The card photo (part card) is missing.", details={"part": "card"})
    face = request.FILES.get("face")
    result = id_card_check(
        session=session,
        card=card.read(),
        live=face.read() if face is not None else None,
        auto=request.POST.get("auto") == "1",
    )
    return JsonResponse(result.as_dict())


@widget_post
def aux_pairing_view(request, session_id):
    session = session_from_token(request, session_id)
    device, secret = aux_pairing_create(session=session)
    url = request.build_absolute_uri(reverse("aux-phone", args=[secret]))
    return JsonResponse(
        {
            "label": device.label,
            "pairingUrl": url,
            "qrSvg": aux_qr_svg(url),
            "expiresAt": iso(device.pairing_expires_at),
        },
        status=201,
    )


@widget_post
def aux_status_view(request, session_id):
    session = session_from_token(request, session_id)
    return JsonResponse(aux_status(session=session))


# --- the phone -------------------------------------------------------------------------------


@require_GET
def aux_phone_view(request, secret):
    """The phone's page: what to do, a camera button, then the live side view."""
    try:
        device = aux_pairing_peek(secret)
    except InvalidPairing as error:
        response = render(request, "aux/phone.html", {"error": error.message}, status=404)
    else:
        response = render(
            request,
            "aux/phone.html",
            {
                "label": device.label,
                "claimed": bool(device.device_digest),
                "title": device.session.assessment.title or device.session.assessment.external_id,
                "config": {
                    "pairing": secret,
                    "claimUrl": reverse("aux-claim"),
                    "framesUrl": reverse("aux-frames"),
                    "heartbeatUrl": reverse("aux-heartbeat"),
                    "frameIntervalMs": FRAME_INTERVAL_MS,
                    "heartbeatIntervalMs": HEARTBEAT_INTERVAL_MS,
                    "label": device.label,
                },
            },
        )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"  # the URL holds the pairing secret
    return response


@widget_post
def aux_claim_view(request):
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = {}
    secret = body.get("pairing") if isinstance(body, dict) else None
    device, device_secret = aux_pairing_claim(
        secret=secret if isinstance(secret, str) else "",
        user_agent=request.headers.get("User-Agent", ""),
    )
    return JsonResponse(
        {
            "deviceToken": device_secret,
            "label": device.label,
            "frameIntervalMs": FRAME_INTERVAL_MS,
            "heartbeatIntervalMs": HEARTBEAT_INTERVAL_MS,
            "heartbeatTimeoutSeconds": settings.PROCTORME_AUX_HEARTBEAT_TIMEOUT,
        },
        status=201,
    )


@widget_post
def aux_frames_view(request):
    device = aux_device_from_secret(_bearer(request))
    items = parse_upload(request.POST.get("meta"), request.FILES, kinds=("aux",))
    accepted, duplicates = media_store(session=device.session, items=items)
    aux_seen(device=device, frame=True)
    return JsonResponse({"accepted": accepted, "duplicates": duplicates}, status=202)


@widget_post
def aux_heartbeat_view(request):
    device = aux_device_from_secret(_bearer(request))
    aux_seen(device=device)
    return HttpResponse(status=204)
