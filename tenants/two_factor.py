"""Two-factor login (TOTP, django-otp): turning it on and off for one's own account.

Optional for everyone; an operator can require it for the admin site with
``PROCTORME_ADMIN_REQUIRE_2FA=1``. A user with a confirmed device must give a
code at every sign-in (tenants.forms.SignInForm). django-otp throttles wrong
codes per device.
"""

from __future__ import annotations

from django.db import transaction
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "Authenticator app"


def totp_device_pending(*, user) -> TOTPDevice:
    """The user's unconfirmed device, made if needed: its key is shown until a code confirms it."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


@transaction.atomic
def totp_device_confirm(*, user, token: str) -> TOTPDevice | None:
    """Confirm the pending device with a code from the app; None when the code is wrong."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(token.strip().replace(" ", "")):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


@transaction.atomic
def totp_device_remove(*, user, token: str) -> bool:
    """Turn two-factor login off; needs a current code so a borrowed session cannot do it."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    if device is None or not device.verify_token(token.strip().replace(" ", "")):
        return False
    TOTPDevice.objects.filter(user=user).delete()
    return True


def totp_verify(*, user, token: str) -> TOTPDevice | None:
    """The user's confirmed device if the code is right (django-otp throttles wrong codes), else None."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None or not device.verify_token((token or "").strip().replace(" ", "")):
        return None
    return device


def two_factor_enabled(*, user) -> bool:
    return user_has_device(user, confirmed=True)


def totp_qr_svg(*, device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG QR code for the authenticator app to scan."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")
