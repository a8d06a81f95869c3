"""Thin APIs: a hospital's export destinations (admins), the export log of a study, and re-send."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.accounts import selectors as account_selectors
from triage.exports import selectors, services
from triage.exports.models import Destination, SendOn
from triage.gateway.apis import EchoOutputSerializer


class DestinationOutputSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.CharField()
    ae_title = serializers.CharField()
    host = serializers.CharField()
    port = serializers.IntegerField(allow_null=True)
    url = serializers.CharField()
    username = serializers.CharField()
    has_password = serializers.SerializerMethodField()  # the password itself is never answered
    send_results_since = serializers.DateTimeField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def get_has_password(self, destination) -> bool:
        return bool(destination.password_encrypted)


class DestinationListApi(APIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        kind = serializers.ChoiceField(choices=Destination.Kind.choices)
        ae_title = serializers.CharField(max_length=16, required=False, default="", allow_blank=True)
        host = serializers.CharField(max_length=253, required=False, default="", allow_blank=True)
        port = serializers.IntegerField(min_value=1, max_value=65535, required=False, allow_null=True, default=None)
        url = serializers.URLField(max_length=500, required=False, default="", allow_blank=True)
        username = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
        password = serializers.CharField(max_length=500, required=False, default="", allow_blank=True,
                                         write_only=True, trim_whitespace=False)
        send_results_since = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                                       help_text="Back-fill from this time; default now.")

    @extend_schema(responses=DestinationOutputSerializer(many=True))
    def get(self, request, hospital_uuid):
        hospital = account_selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        destinations = selectors.destination_list(user=request.user, hospital=hospital)
        return Response(DestinationOutputSerializer(destinations, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: DestinationOutputSerializer})
    def post(self, request, hospital_uuid):
        hospital = account_selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        destination = services.create_destination(actor=request.user, hospital=hospital, **data.validated_data)
        return Response(DestinationOutputSerializer(destination).data, status=status.HTTP_201_CREATED)


class DestinationDetailApi(APIView):
    class UpdateSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        ae_title = serializers.CharField(max_length=16, required=False, default="", allow_blank=True)
        host = serializers.CharField(max_length=253, required=False, default="", allow_blank=True)
        port = serializers.IntegerField(min_value=1, max_value=65535, required=False, allow_null=True, default=None)
        url = serializers.URLField(max_length=500, required=False, default="", allow_blank=True)
        username = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
        password = serializers.CharField(max_length=500, required=False, allow_blank=True, allow_null=True,
                                         default=None, write_only=True, trim_whitespace=False,
                                         help_text="Omit or null to keep the stored password; empty to clear it.")
        is_active = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema(request=UpdateSerializer, responses=DestinationOutputSerializer)
    def put(self, request, hospital_uuid, destination_uuid):
        hospital = account_selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        destination = selectors.destination_get(user=request.user, hospital=hospital,
                                                destination_uuid=destination_uuid)
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        destination = services.update_destination(actor=request.user, destination=destination,
                                                  **data.validated_data)
        return Response(DestinationOutputSerializer(destination).data)

    @extend_schema(responses=DestinationOutputSerializer)
    def delete(self, request, hospital_uuid, destination_uuid):
        hospital = account_selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        destination = selectors.destination_get(user=request.user, hospital=hospital,
                                                destination_uuid=destination_uuid)
        destination = services.deactivate_destination(actor=request.user, destination=destination)
        return Response(DestinationOutputSerializer(destination).data)


class DestinationEchoApi(APIView):
    @extend_schema(request=None, responses=EchoOutputSerializer)
    def post(self, request, hospital_uuid, destination_uuid):
        hospital = account_selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        destination = selectors.destination_get(user=request.user, hospital=hospital,
                                                destination_uuid=destination_uuid)
        result = services.echo_destination(actor=request.user, destination=destination)
        return Response(EchoOutputSerializer(result).data)


class ExportSettingsSerializer(serializers.Serializer):
    send_on = serializers.ChoiceField(choices=SendOn.choices)


class ExportSettingsApi(APIView):
    # A named serializer: the schema's component name comes from it (a bare "Serializer" gives "").
    Serializer = ExportSettingsSerializer

    @extend_schema(responses=Serializer)
    def get(self, request, hospital_uuid):
        hospital = account_selectors.administered_hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        return Response(self.Serializer({"send_on": selectors.send_on_get(user=request.user, hospital=hospital)}).data)

    @extend_schema(request=Serializer, responses=Serializer)
    def put(self, request, hospital_uuid):
        hospital = account_selectors.administered_hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        data = self.Serializer(data=request.data)
        data.is_valid(raise_exception=True)
        setting = services.set_send_on(actor=request.user, hospital=hospital, **data.validated_data)
        return Response(self.Serializer(setting).data)


class ExportJobOutputSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    destination = serializers.UUIDField(source="destination.uuid")
    destination_name = serializers.CharField(source="destination.name")
    revision = serializers.IntegerField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    sop_instance_uids = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)


class StudyExportListApi(APIView):
    @extend_schema(responses=ExportJobOutputSerializer(many=True))
    def get(self, request, study_uuid):
        jobs = selectors.export_log(user=request.user, study_uuid=study_uuid)
        return Response(ExportJobOutputSerializer(jobs, many=True).data)


class ExportResendApi(APIView):
    @extend_schema(request=None, responses={202: ExportJobOutputSerializer})
    def post(self, request, job_uuid):
        job = selectors.export_job_get(user=request.user, job_uuid=job_uuid)
        job = services.request_resend(actor=request.user, job=job)
        return Response(ExportJobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)
