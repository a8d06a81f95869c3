"""``Authorization: Token <key>`` (or ``Bearer <key>``) with hashed, revocable keys."""
import hashlib

from django.utils import timezone
from rest_framework import authentication, exceptions

from triage.accounts.models import ApiToken

INVALID_TOKEN_MSG = "Invalid or revoked API token."


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN_MSG)
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_sha256=hash_key(parts[1].decode(errors="replace")), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN_MSG)
        ApiToken.objects.filter(id=token.id).update(last_used_at=timezone.now())
        user = token.user
        user.token_hospital_id = token.hospital_id
        return user, token

    def authenticate_header(self, request) -> str:
        return "Token"
