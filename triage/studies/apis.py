"""Thin JSON APIs: upload (multipart files or a .zip), list, detail and reprocess studies.

``POST /api/studies/`` answers 201 when no file was rejected, 200 when some files were
accepted or duplicates and others rejected (read ``files`` for each one's outcome), and 422
(``{"message", "extra": {"files", ...}}``) when every file was rejected. A request larger
than ``settings.UPLOAD_MAX_BYTES`` gets 413 before its body is read.
"""
from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.accounts.selectors import hospital_get
from triage.core.exceptions import DomainError
from triage.core.pagination import StandardPagination, paginated_schema
from triage.studies import selectors, services
from triage.studies.exceptions import NO_FILES_MSG, NOTHING_ACCEPTED_MSG, UploadTooLarge
from triage.studies.models import Study
from triage.studies.uploads import IncomingFile


class UploadReportSerializer(serializers.Serializer):
    class FileOutcomeSerializer(serializers.Serializer):
        name = serializers.CharField()
        status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
        reason = serializers.CharField(allow_blank=True)
        study = serializers.UUIDField(allow_null=True)

    files = FileOutcomeSerializer(many=True)
    studies = serializers.ListField(child=serializers.UUIDField())
    accepted = serializers.SerializerMethodField()
    duplicates = serializers.SerializerMethodField()
    rejected = serializers.SerializerMethodField()
    note = serializers.CharField(allow_blank=True)

    def get_accepted(self, report) -> int:
        return report.count(services.FileStatus.ACCEPTED)

    def get_duplicates(self, report) -> int:
        return report.count(services.FileStatus.DUPLICATE)

    def get_rejected(self, report) -> int:
        return report.count(services.FileStatus.REJECTED)


class StudySummarySerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    hospital = serializers.UUIDField(source="hospital.uuid")
    status = serializers.CharField()
    status_changed_at = serializers.DateTimeField()
    failure_reason = serializers.CharField()
    received_at = serializers.DateTimeField()
    source = serializers.CharField()
    accession_number = serializers.CharField()
    patient_id = serializers.CharField()
    patient_name = serializers.CharField()
    study_date = serializers.DateField(allow_null=True)
    study_description = serializers.CharField()


class NothingAccepted(DomainError):
    status_code = 422


def check_upload_size(request) -> None:
    """Refuse an over-size request from its Content-Length header, before reading the body."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.UPLOAD_MAX_BYTES:
        raise UploadTooLarge(limit_bytes=settings.UPLOAD_MAX_BYTES)


class StudyListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        hospital = serializers.UUIDField(required=False)
        status = serializers.ChoiceField(choices=Study.Status.choices, required=False)

    class InputSerializer(serializers.Serializer):
        hospital = serializers.UUIDField()
        source = serializers.ChoiceField(choices=[Study.Source.API, Study.Source.WEB], default=Study.Source.API)

    def initial(self, request, *args, **kwargs):
        # Before authentication: the CSRF check of session authentication parses the body.
        if request.method == "POST":
            check_upload_size(request)
        super().initial(request, *args, **kwargs)

    @extend_schema(parameters=[FilterSerializer],
                   responses=paginated_schema(StudySummarySerializer, name="PaginatedStudySummaryList"),
                   operation_id="api_studies_list")
    def get(self, request):
        f = self.FilterSerializer(data=request.query_params)
        f.is_valid(raise_exception=True)
        filters = selectors.StudyFilters(hospital_uuid=f.validated_data.get("hospital"),
                                         status=f.validated_data.get("status"))
        studies = selectors.study_list(user=request.user, filters=filters)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(studies, request, view=self)
        selectors.record_studies_listed(user=request.user, studies=page, via="study_list")
        return paginator.get_paginated_response(StudySummarySerializer(page, many=True).data)

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {
        "hospital": {"type": "string", "format": "uuid"},
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
        responses={201: UploadReportSerializer, 200: UploadReportSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        uploads = request.FILES.getlist("files")
        if not uploads:
            raise DomainError(NO_FILES_MSG, extra={"field": "files"})
        if sum(u.size for u in uploads) > settings.UPLOAD_MAX_BYTES:
            raise UploadTooLarge(limit_bytes=settings.UPLOAD_MAX_BYTES)
        hospital = hospital_get(user=request.user, hospital_uuid=data.validated_data["hospital"])
        report = services.receive_instances(
            hospital=hospital, uploaded_by=request.user, source=data.validated_data["source"],
            files=[IncomingFile(name=u.name, stream=u) for u in uploads],
        )
        body = UploadReportSerializer(report).data
        if report.all_rejected:
            raise NothingAccepted(NOTHING_ACCEPTED_MSG, extra=body)
        code = status.HTTP_200_OK if report.count(services.FileStatus.REJECTED) else status.HTTP_201_CREATED
        return Response(body, status=code)


class StudyDetailApi(APIView):
    class OutputSerializer(StudySummarySerializer):
        class SeriesSerializer(serializers.Serializer):
            uuid = serializers.UUIDField()
            series_instance_uid = serializers.CharField()
            modality = serializers.CharField()
            series_number = serializers.IntegerField(allow_null=True)
            series_description = serializers.CharField()
            slice_count = serializers.IntegerField()
            rows = serializers.IntegerField()
            columns = serializers.IntegerField()
            pixel_spacing_row_mm = serializers.FloatField(allow_null=True)
            pixel_spacing_col_mm = serializers.FloatField(allow_null=True)
            slice_thickness_mm = serializers.FloatField(allow_null=True)
            spacing_between_slices_mm = serializers.FloatField(allow_null=True)
            kvp = serializers.FloatField(allow_null=True)
            convolution_kernel = serializers.CharField()
            image_orientation_patient = serializers.ListField(child=serializers.FloatField(), allow_null=True)
            transfer_syntax_uid = serializers.CharField()
            is_selected = serializers.BooleanField()

        study_instance_uid = serializers.CharField()
        patient_sex = serializers.CharField()
        patient_age = serializers.CharField()
        patient_birth_date = serializers.DateField(allow_null=True)
        selected_series = serializers.UUIDField(source="selected_series.uuid", allow_null=True, default=None)
        series = SeriesSerializer(many=True, source="series.all")

    @extend_schema(responses=OutputSerializer)
    def get(self, request, study_uuid):
        study = selectors.access_study(user=request.user, study_uuid=study_uuid)
        return Response(self.OutputSerializer(study).data)


class StudyReprocessApi(APIView):
    @extend_schema(request=None, responses=StudySummarySerializer)
    def post(self, request, study_uuid):
        study = selectors.study_get(user=request.user, study_uuid=study_uuid)
        study = services.reprocess_study(actor=request.user, study=study)
        return Response(StudySummarySerializer(study).data)
