"""Turn every API error into ``{"message": str, "extra": dict}`` with the right status."""
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from triage.core.exceptions import DomainError, StorageOffline

STORAGE_OFFLINE_MSG = "The image store is not reachable; nothing was changed. Try again in a minute."


def handle_api_exception(exc, context):
    if isinstance(exc, StorageOffline):
        return Response({"message": STORAGE_OFFLINE_MSG, "extra": {}}, status=503, headers={"Retry-After": "60"})
    if isinstance(exc, DomainError):
        return Response({"message": exc.message, "extra": exc.extra}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        message, extra = "Invalid input.", {"fields": response.data}
    elif isinstance(response.data, dict) and "detail" in response.data:
        message, extra = str(response.data["detail"]), {}
    else:
        message, extra = "Request failed.", {"detail": response.data}
    if response.status_code == status.HTTP_401_UNAUTHORIZED and not message:
        message = "Authentication required."
    response.data = {"message": message, "extra": extra}
    return response
