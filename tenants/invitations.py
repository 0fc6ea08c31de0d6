"""Invitation links: a signed, expiring, single-use link to set a first password.

The token is ``<fingerprint>:<timestamp>:<signature>`` made by Django's
``TimestampSigner`` (keyed with ``SECRET_KEY``, its own salt). The fingerprint
is an HMAC of the user's id, e-mail address and current password hash, so the
link stops working once the password is set (or the address changes), and
``check_token`` refuses it after ``PROCTORME_INVITATION_TTL`` seconds. A
password-reset token cannot be used as an invitation, nor the other way round:
the salts differ.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

_SALT = "proctorme.tenants.invitation"


class InvitationTokenGenerator:
    """Same interface as Django's PasswordResetTokenGenerator (used by its confirm view)."""

    def _fingerprint(self, user) -> str:
        state = f"{user.pk}|{user.email}|{user.password}"
        return salted_hmac(_SALT, state, algorithm="sha256").hexdigest()[:32]

    def make_token(self, user) -> str:
        return signing.TimestampSigner(salt=_SALT).sign(self._fingerprint(user))

    def check_token(self, user, token: str | None) -> bool:
        if not (user and token):
            return False
        try:
            value = signing.TimestampSigner(salt=_SALT).unsign(
                token, max_age=settings.PROCTORME_INVITATION_TTL
            )
        except signing.BadSignature:  # SignatureExpired is a BadSignature too
            return False
        return constant_time_compare(value, self._fingerprint(user))


invitation_token_generator = InvitationTokenGenerator()


def invitation_url(user) -> str:
    """The absolute link (from SITE_URL) that lets ``user`` set their password."""
    path = reverse(
        "invitation-accept",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": invitation_token_generator.make_token(user),
        },
    )
    return settings.SITE_URL + path
