"""Thin JSON APIs: list and detail of studies, and the upload report's shape.

Upload (``POST /api/studies/``) and reprocess start pipeline work, so they live in
:mod:`triage.pipeline.apis`.
"""
from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.core.exceptions import DomainError
from triage.core.pagination import StandardPagination, paginated_schema
from triage.studies import selectors
from triage.studies.services.receiving import FileStatus
from triage.studies.exceptions import UploadTooLarge
from triage.studies.models import Study


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
        return report.count(FileStatus.ACCEPTED)

    def get_duplicates(self, report) -> int:
        return report.count(FileStatus.DUPLICATE)

    def get_rejected(self, report) -> int:
        return report.count(FileStatus.REJECTED)


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
