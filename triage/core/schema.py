"""OpenAPI naming for the nested ``InputSerializer``/``OutputSerializer`` style (STYLE B6)."""
from drf_spectacular.openapi import AutoSchema


class NestedSerializerAutoSchema(AutoSchema):
    """Name a nested serializer after its owner: ``TokenListApi.InputSerializer`` → ``TokenListApiInput``."""

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        owner, _, _ = type(serializer).__qualname__.rpartition(".")
        return f"{owner.replace('.', '')}{name}" if owner else name

    def get_operation_id(self):
        """Name a GET on a collection path ``…_list``, so it never collides with a member's ``…_retrieve``.

        DICOMweb serves ``/studies/{uid}/series`` (search) and ``/studies/{uid}/series/{uid}``
        (retrieve) from views that drf-spectacular would both call ``…_retrieve``.
        """
        operation_id = super().get_operation_id()
        if self.method == "GET" and not self.path.rstrip("/").endswith("}") and operation_id.endswith("_retrieve"):
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id
