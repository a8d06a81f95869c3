"""OpenAPI naming for the nested ``InputSerializer``/``OutputSerializer`` style (STYLE B6)."""
from drf_spectacular.openapi import AutoSchema


class NestedSerializerAutoSchema(AutoSchema):
    """Name a nested serializer after its owner: ``TokenListApi.InputSerializer`` → ``TokenListApiInput``."""

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        owner, _, _ = type(serializer).__qualname__.rpartition(".")
        return f"{owner.replace('.', '')}{name}" if owner else name
