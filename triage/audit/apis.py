from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from triage.accounts.selectors import hospital_get
from triage.audit.selectors import audit_event_list
from triage.core.pagination import StandardPagination, paginated_schema


class AuditEventListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        hospital = serializers.UUIDField(required=False)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        at = serializers.DateTimeField()
        actor = serializers.CharField(source="actor_username")
        action = serializers.CharField()
        hospital = serializers.UUIDField(source="hospital.uuid", allow_null=True, default=None)
        object_type = serializers.CharField()
        object_id = serializers.CharField()
        ip_address = serializers.IPAddressField(allow_null=True)
        extra = serializers.JSONField()

    @extend_schema(parameters=[FilterSerializer],
                   responses=paginated_schema(OutputSerializer, name="PaginatedAuditEventList"),
                   operation_id="api_audit_events_list")
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        hospital_uuid = filters.validated_data.get("hospital")
        hospital = hospital_get(user=request.user, hospital_uuid=hospital_uuid) if hospital_uuid else None
        paginator = StandardPagination()
        page = paginator.paginate_queryset(audit_event_list(user=request.user, hospital=hospital), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
