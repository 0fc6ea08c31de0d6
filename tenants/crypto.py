"""Symmetric encryption for secrets the server must be able to use again.

Secret keys sign attempt ids (HMAC) and webhook secrets sign deliveries, so a
one-way hash is not enough for them; they are stored encrypted with a key
derived from ``KEY_ENCRYPTION_KEY`` and looked up by their SHA-256 digest.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(material: str) -> Fernet:
    digest = hashlib.sha256(b"proctorme-secrets-v1:" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str) -> str:
    return _fernet(settings.KEY_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet(settings.KEY_ENCRYPTION_KEY).decrypt(token.encode()).decode()


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
