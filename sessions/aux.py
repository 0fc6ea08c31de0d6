"""AutoProctor's ``auxiliaryDevice``: a phone paired by QR code as the session's side view.

1. The laptop's widget (holding the session token) asks for a pairing: a random pairing
   secret, shown as a QR code of ``/aux/<secret>``, that works **once**, for
   ``PROCTORME_AUX_PAIRING_TTL`` seconds, for this running session only. Only its SHA-256 is
   stored. A label (``K7Q-4MZ``) is shown beside it on both screens.
2. The phone opens the page, turns its camera on and claims the pairing: the pairing secret
   is spent and the phone gets a device secret (``aux_…``) that can do two things — upload
   side-view frames (media kind ``aux``) of this one session, and say it is alive. It opens
   no widget endpoint, no other session and no API.
3. Every upload or heartbeat is the phone's sign of life. A phone silent for longer than
   ``PROCTORME_AUX_HEARTBEAT_TIMEOUT`` is disconnected: one ``AUX_DISCONNECTED`` flag opens
   (closed with its duration if the phone comes back), and the laptop's widget, which asks
   for the state every few seconds, dispatches ``apAuxDisconnected``.

Tenancy: the pairing is made from the session's own token, the phone's secrets name that
session, and nothing here takes a session id from the phone.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from proctorme.errors import InvalidPairing, OptionNotEnabled, SessionEnded
from proctorme.times import iso
from sessions.models import AuxDevice, ProctoringSession
from sessions.services import flag_record
from tenants.crypto import digest

DEVICE_PREFIX = "aux_"
LABEL_ALPHABET = "ACDEFGHJKMNPQRTUVWXY3479"  # no 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B
FRAME_INTERVAL_MS = 2000
HEARTBEAT_INTERVAL_MS = 4000


def aux_enabled(session: ProctoringSession) -> bool:
    return bool((session.config.get("tracking") or {}).get("auxiliaryDevice"))


def _label() -> str:
    raw = "".join(secrets.choice(LABEL_ALPHABET) for _ in range(6))
    return f"{raw[:3]}-{raw[3:]}"


def aux_pairing_create(*, session: ProctoringSession) -> tuple[AuxDevice, str]:
    """A new single-use pairing for this running session: ``(device, pairing secret)``."""
    if not aux_enabled(session):
        raise OptionNotEnabled("This attempt was not started with auxiliaryDevice.")
    if session.status != ProctoringSession.Status.ACTIVE:
        raise SessionEnded()
    secret = secrets.token_urlsafe(24)
    device = AuxDevice.objects.create(
        institution_id=session.institution_id,
        session=session,
        label=_label(),
        pairing_digest=digest(secret),
        pairing_expires_at=timezone.now() + timedelta(seconds=settings.PROCTORME_AUX_PAIRING_TTL),
    )
    return device, secret


def aux_pairing_peek(secret: str) -> AuxDevice:
    """The pairing of a running session this secret names, for the phone's page: unclaimed and
    unexpired, or already claimed (a reload of the phone's page, which keeps its device secret)."""
    device = (
        AuxDevice.objects.select_related("session", "session__institution", "session__assessment")
        .filter(pairing_digest=digest(secret or ""))
        .first()
    )
    if (
        device is None
        or (not device.device_digest and device.pairing_expires_at < timezone.now())
        or device.session.status != ProctoringSession.Status.ACTIVE
    ):
        raise InvalidPairing()
    return device


def aux_pairing_claim(*, secret: str, user_agent: str = "") -> tuple[AuxDevice, str]:
    """Spend the pairing secret; returns the device and its device secret. Works once."""
    with transaction.atomic():
        device = (
            AuxDevice.objects.select_for_update()
            .filter(pairing_digest=digest(secret or ""), device_digest="")
            .first()
        )
        if device is None or device.pairing_expires_at < timezone.now():
            raise InvalidPairing()
        session = ProctoringSession.objects.only("status").get(pk=device.session_id)
        if session.status != ProctoringSession.Status.ACTIVE:
            raise InvalidPairing()
        device_secret = DEVICE_PREFIX + secrets.token_urlsafe(32)
        now = timezone.now()
        device.device_digest = digest(device_secret)
        device.paired_at = device.last_seen_at = now
        device.user_agent = user_agent[:300]
        device.save(update_fields=["device_digest", "paired_at", "last_seen_at", "user_agent"])
    return device, device_secret


def aux_device_from_secret(secret: str | None) -> AuxDevice:
    """The paired device this device secret names, of a running session (else INVALID_PAIRING)."""
    if not secret or not secret.startswith(DEVICE_PREFIX):
        raise InvalidPairing()
    device = (
        AuxDevice.objects.select_related("session", "session__institution")
        .filter(device_digest=digest(secret))
        .first()
    )
    if device is None:
        raise InvalidPairing()
    if device.session.status != ProctoringSession.Status.ACTIVE:
        raise SessionEnded()
    return device


def aux_seen(*, device: AuxDevice, frame: bool = False) -> None:
    """The phone is alive (an upload or a heartbeat): a disconnected phone is back."""
    now = timezone.now()
    with transaction.atomic():
        locked = AuxDevice.objects.select_for_update().get(pk=device.pk)
        fields = ["last_seen_at"]
        locked.last_seen_at = now
        if frame and locked.started_at is None:
            locked.started_at = now
            fields.append("started_at")
        if locked.disconnected_at is not None:
            session = ProctoringSession.objects.get(pk=locked.session_id)
            flag_record(
                session=session,
                type="AUX_DISCONNECTED",
                episode_key=_episode(locked),
                started_at=locked.disconnected_at,
                ended_at=now,
                payload={"device": "aux", "label": locked.label},
            )
            locked.disconnected_at = None
            fields.append("disconnected_at")
        locked.save(update_fields=fields)


def _episode(device: AuxDevice) -> str:
    return f"AUX_DISCONNECTED@{device.public_id}@{device.disconnected_at.timestamp():.3f}"


def aux_heartbeat_check(*, session: ProctoringSession, now=None) -> None:
    """Disconnect every paired phone of this session that has been silent for too long."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PROCTORME_AUX_HEARTBEAT_TIMEOUT)
    stale = AuxDevice.objects.filter(
        session=session, paired_at__isnull=False, disconnected_at__isnull=True, last_seen_at__lt=cutoff
    )
    for device in stale:
        with transaction.atomic():
            locked = AuxDevice.objects.select_for_update().get(pk=device.pk)
            if locked.disconnected_at is not None or locked.last_seen_at >= cutoff:
                continue
            locked.disconnected_at = locked.last_seen_at
            locked.save(update_fields=["disconnected_at"])
            flag_record(
                session=session,
                type="AUX_DISCONNECTED",
                episode_key=_episode(locked),
                started_at=locked.disconnected_at,
                payload={"device": "aux", "label": locked.label},
            )


def aux_status(*, session: ProctoringSession) -> dict:
    """What the laptop's widget shows and dispatches: the newest pairing's state.

    ``none`` (no pairing yet), ``waiting`` (QR shown, not claimed), ``paired`` (claimed, no
    frame yet), ``streaming`` (frames arriving), ``disconnected`` (silent too long).
    """
    if session.status == ProctoringSession.Status.ACTIVE:
        aux_heartbeat_check(session=session)
    devices = list(AuxDevice.objects.filter(session=session).order_by("-created_at")[:20])
    paired = [d for d in devices if d.paired_at is not None]
    device = paired[0] if paired else (devices[0] if devices else None)
    if device is None:
        state = "none"
    elif device.paired_at is None:
        state = "waiting"
    elif device.disconnected_at is not None:
        state = "disconnected"
    elif device.started_at is None:
        state = "paired"
    else:
        state = "streaming"
    return {
        "state": state,
        "label": device.label if device else None,
        "pairedAt": iso(device.paired_at) if device else None,
        "startedAt": iso(device.started_at) if device else None,
        "lastSeenAt": iso(device.last_seen_at) if device else None,
        "disconnectedAt": iso(device.disconnected_at) if device else None,
        "disconnects": sum(1 for d in paired if d.disconnected_at is not None),
    }


def aux_qr_svg(url: str) -> str:
    """The pairing URL as an SVG QR code (made here, on the server)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(
        url,
        image_factory=qrcode.image.svg.SvgPathImage,
        box_size=10,
        border=4,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    return image.to_string(encoding="unicode")
