"""The tool's RSA key pairs, one active per institution, rotated with a grace period.

Private keys are stored encrypted (tenants.crypto); the public halves are
published at the institution's JWKS URL. After a rotation the old key stays
in the JWKS for ``LTI_KEY_GRACE_SECONDS`` so that platforms that cached it
still verify messages signed just before the rotation.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sessions.lti.models import LtiToolKey
from tenants.crypto import decrypt, encrypt
from tenants.models import Institution


def _new_key(institution: Institution) -> LtiToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kid = secrets.token_urlsafe(16)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return LtiToolKey.objects.create(
        institution=institution, kid=kid, private_key_encrypted=encrypt(pem), public_jwk=jwk
    )


def tool_key_active(*, institution: Institution) -> LtiToolKey:
    """The key the tool signs with now (made on first use)."""
    key = LtiToolKey.objects.filter(institution=institution, retired_at__isnull=True).first()
    if key is not None:
        return key
    with transaction.atomic():
        Institution.objects.select_for_update().get(pk=institution.pk)
        key = LtiToolKey.objects.filter(institution=institution, retired_at__isnull=True).first()
        return key or _new_key(institution)


@transaction.atomic
def tool_key_rotate(*, institution: Institution) -> LtiToolKey:
    """Make a new signing key; the previous ones stay published for the grace period."""
    Institution.objects.select_for_update().get(pk=institution.pk)
    LtiToolKey.objects.filter(institution=institution, retired_at__isnull=True).update(
        retired_at=timezone.now()
    )
    return _new_key(institution)


def tool_jwks(*, institution: Institution) -> dict:
    """The public keys platforms verify our messages with: the active key and recently retired ones."""
    tool_key_active(institution=institution)
    since = timezone.now() - timedelta(seconds=settings.LTI_KEY_GRACE_SECONDS)
    keys = LtiToolKey.objects.filter(institution=institution).filter(
        Q(retired_at__isnull=True) | Q(retired_at__gt=since)
    )
    return {"keys": [key.public_jwk for key in keys]}


def tool_sign(*, institution: Institution, claims: dict) -> str:
    """An RS256 JWT signed with the institution's active key, its kid in the header."""
    key = tool_key_active(institution=institution)
    return jwt.encode(claims, decrypt(key.private_key_encrypted), algorithm="RS256", headers={"kid": key.kid})
