"""Thin JSON APIs for the current user, hospitals, memberships, API tokens and the audit log."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.accounts import selectors, services
from triage.accounts.models import Role
from triage.core.pagination import StandardPagination, paginated_schema


class HospitalOutputSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    name = serializers.CharField()
    code = serializers.CharField()
    max_wait_minutes = serializers.IntegerField()


class MembershipOutputSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    username = serializers.CharField(source="user.username")
    user_uuid = serializers.UUIDField(source="user.uuid")
    role = serializers.CharField()
    hospital = serializers.UUIDField(source="hospital.uuid")


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        uuid = serializers.UUIDField()
        username = serializers.CharField()
        is_platform_admin = serializers.BooleanField()
        memberships = MembershipOutputSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        user = request.user
        data = {"uuid": user.uuid, "username": user.username, "is_platform_admin": user.is_platform_admin,
                "memberships": selectors.memberships_of(user=user)}
        return Response(self.OutputSerializer(data).data)


class HospitalListApi(APIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        code = serializers.SlugField(max_length=32)
        max_wait_minutes = serializers.IntegerField(min_value=1, max_value=7 * 24 * 60, default=60)

    @extend_schema(responses=HospitalOutputSerializer(many=True))
    def get(self, request):
        return Response(HospitalOutputSerializer(selectors.hospital_list(user=request.user), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: HospitalOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hospital = services.create_hospital(actor=request.user, **data.validated_data)
        return Response(HospitalOutputSerializer(hospital).data, status=status.HTTP_201_CREATED)


class HospitalDetailApi(APIView):
    class InputSerializer(serializers.Serializer):
        max_wait_minutes = serializers.IntegerField(min_value=1, max_value=7 * 24 * 60)

    @extend_schema(responses=HospitalOutputSerializer)
    def get(self, request, hospital_uuid):
        hospital = selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        return Response(HospitalOutputSerializer(hospital).data)

    @extend_schema(request=InputSerializer, responses=HospitalOutputSerializer)
    def patch(self, request, hospital_uuid):
        hospital = selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hospital = services.update_hospital_wait_cap(actor=request.user, hospital=hospital, **data.validated_data)
        return Response(HospitalOutputSerializer(hospital).data)


class HospitalMemberListApi(APIView):
    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        # A free string, checked by the service, so an unknown role gets its own message.
        role = serializers.CharField(max_length=32, help_text=f"One of {', '.join(Role.values)}.")
        password = serializers.CharField(write_only=True, style={"input_type": "password"})
        email = serializers.EmailField(required=False, default="")

    @extend_schema(responses=MembershipOutputSerializer(many=True))
    def get(self, request, hospital_uuid):
        hospital = selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        memberships = selectors.membership_list(user=request.user, hospital=hospital)
        return Response(MembershipOutputSerializer(memberships, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: MembershipOutputSerializer})
    def post(self, request, hospital_uuid):
        hospital = selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.create_user(actor=request.user, hospital=hospital, **data.validated_data)
        membership = user.memberships.get(hospital=hospital)
        return Response(MembershipOutputSerializer(membership).data, status=status.HTTP_201_CREATED)


class HospitalMemberDeleteApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, hospital_uuid, membership_uuid):
        hospital = selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        membership = selectors.membership_get(user=request.user, hospital=hospital, membership_uuid=membership_uuid)
        services.revoke_membership(actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenOutputSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    name = serializers.CharField()
    key_prefix = serializers.CharField()
    hospital = serializers.UUIDField(source="hospital.uuid", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class TokenListApi(APIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        hospital = serializers.UUIDField(required=False, allow_null=True, default=None)

    class CreatedSerializer(TokenOutputSerializer):
        key = serializers.CharField(help_text="Shown once; store it now.")

    @extend_schema(responses=TokenOutputSerializer(many=True))
    def get(self, request):
        return Response(TokenOutputSerializer(selectors.token_list(user=request.user), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CreatedSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hospital_uuid = data.validated_data["hospital"]
        hospital = selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid) if hospital_uuid else None
        token, key = services.create_api_token(actor=request.user, name=data.validated_data["name"], hospital=hospital)
        body = TokenOutputSerializer(token).data | {"key": key}
        return Response(body, status=status.HTTP_201_CREATED)


class TokenRevokeApi(APIView):
    @extend_schema(responses=TokenOutputSerializer)
    def delete(self, request, token_uuid):
        token = selectors.token_get(user=request.user, token_uuid=token_uuid)
        token = services.revoke_api_token(actor=request.user, token=token)
        return Response(TokenOutputSerializer(token).data)


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
        hospital = selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid) if hospital_uuid else None
        paginator = StandardPagination()
        page = paginator.paginate_queryset(selectors.audit_event_list(user=request.user, hospital=hospital), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
