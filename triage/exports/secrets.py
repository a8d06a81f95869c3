"""Encrypt destination passwords at rest with a key derived from ``SECRET_KEY`` (Fernet: AES + HMAC).

The database alone does not reveal a password; rotating ``SECRET_KEY`` makes stored passwords
unreadable, and a send then fails with :data:`UNREADABLE_SECRET_MSG` until an admin sets it again.
"""
import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

UNREADABLE_SECRET_MSG = "The destination's stored password cannot be decrypted (SECRET_KEY changed?); set it again."


def _fernet() -> Fernet:
    key = hashlib.sha256(f"exports.destination-password:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def decrypt(token: str) -> str:
    """Return the password, ``""`` for none; raise ``ValueError`` if it cannot be decrypted."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError(UNREADABLE_SECRET_MSG) from None
