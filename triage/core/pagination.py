from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


def paginated_schema(row_serializer, *, name: str) -> serializers.Serializer:
    """The OpenAPI shape of a :class:`StandardPagination` page of ``row_serializer`` rows."""
    return inline_serializer(name=name, fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": row_serializer(many=True),
    })
