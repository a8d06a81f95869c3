"""Thin JSON APIs: dashboard metrics, operating threshold, PCR CSV import (dry run), FHIR, research export.

``POST .../pcr-outcomes/import/`` (multipart ``file``, ``dry_run`` default true) answers 200 with
the report; with ``dry_run=false`` and any error it answers 422 ``{"message", "extra": {"report"}}``
and imports nothing.
"""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.accounts.selectors import administered_hospital_get
from triage.monitoring import selectors, services
from triage.monitoring.shadow import candidate_comparison
from triage.monitoring.training_export import LabelSource
from triage.results.selectors import candidate_get


class MetricSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    ci95 = serializers.ListField(child=serializers.FloatField(), allow_null=True)


class ComparisonSerializer(serializers.Serializer):
    reader = serializers.CharField()
    n = serializers.IntegerField()
    tn = serializers.IntegerField()
    fp = serializers.IntegerField()
    fn = serializers.IntegerField()
    tp = serializers.IntegerField()
    metrics = serializers.DictField(child=MetricSerializer())


class ImportReportSerializer(serializers.Serializer):
    class RowErrorSerializer(serializers.Serializer):
        line = serializers.IntegerField()
        code = serializers.CharField()
        column = serializers.CharField(allow_blank=True)
        message = serializers.CharField()

    dry_run = serializers.BooleanField()
    committed = serializers.BooleanField()
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = RowErrorSerializer(many=True)


class DashboardMetricsApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class WeekSerializer(serializers.Serializer):
            iso_week = serializers.CharField()
            n = serializers.IntegerField()
            median = serializers.FloatField()
            q1 = serializers.FloatField()
            q3 = serializers.FloatField()
            positive_rate = serializers.FloatField()

        class OperatingPointSerializer(serializers.Serializer):
            threshold = serializers.FloatField()
            sensitivity = serializers.FloatField(allow_null=True)
            specificity = serializers.FloatField(allow_null=True)
            ppv = serializers.FloatField(allow_null=True)
            npv = serializers.FloatField(allow_null=True)

        scope = serializers.CharField()
        operating_threshold = serializers.CharField()
        n_outcomes = serializers.IntegerField()
        n_inconclusive = serializers.IntegerField()
        model = ComparisonSerializer(allow_null=True)
        radiologist = ComparisonSerializer(allow_null=True)
        kappa_model_radiologist = serializers.FloatField(allow_null=True)
        n_kappa = serializers.IntegerField()
        ece = serializers.FloatField(allow_null=True)
        roc = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))
        operating_points = OperatingPointSerializer(many=True)
        drift = WeekSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request, hospital_uuid=None):
        scope = selectors.dashboard_scope_get(user=request.user, hospital_uuid=hospital_uuid)
        evaluation = selectors.evaluation_for(user=request.user, hospitals=scope.hospitals)
        evaluation.scope, evaluation.operating_threshold = scope.slug, scope.threshold_label
        return Response(self.OutputSerializer(evaluation).data)


class OperatingThresholdUpdateApi(APIView):
    class InputSerializer(serializers.Serializer):
        operating_threshold = serializers.FloatField(min_value=0.0, max_value=1.0)

    class OutputSerializer(serializers.Serializer):
        hospital = serializers.UUIDField(source="hospital.uuid")
        operating_threshold = serializers.FloatField()
        updated_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def put(self, request, hospital_uuid):
        scope = selectors.dashboard_scope_get(user=request.user, hospital_uuid=hospital_uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.update_operating_threshold(hospital=scope.hospital, actor=request.user, **data.validated_data)
        return Response(self.OutputSerializer(row).data)


class PcrOutcomeImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        dry_run = serializers.BooleanField(default=True)

    @extend_schema(request=InputSerializer, responses=ImportReportSerializer)
    def post(self, request, hospital_uuid):
        scope = selectors.dashboard_scope_get(user=request.user, hospital_uuid=hospital_uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.import_pcr_outcomes(hospital=scope.hospital, actor=request.user,
                                              data=data.validated_data["file"].read(),
                                              dry_run=data.validated_data["dry_run"])
        return Response(ImportReportSerializer(report.as_dict()).data)


class StudyFhirApi(APIView):
    """The study's report as a FHIR R4 Bundle (``application/fhir+json`` content, JSON media type)."""

    @extend_schema(responses={200: dict})
    def get(self, request, study_uuid):
        return Response(selectors.fhir_report_get(user=request.user, study_uuid=study_uuid))


class ResearchExportApi(APIView):
    class OutputSerializer(serializers.Serializer):
        study = serializers.CharField()
        patient = serializers.CharField()
        hospital = serializers.CharField()
        patient_sex = serializers.CharField(allow_blank=True)
        patient_age = serializers.CharField(allow_blank=True)
        model_version = serializers.CharField()
        covid_probability = serializers.FloatField()
        predicted_label = serializers.CharField()
        lesion_fraction_both = serializers.FloatField(allow_null=True)
        lesion_total_ml = serializers.FloatField(allow_null=True)
        severity_total = serializers.IntegerField(allow_null=True)
        radiologist_label = serializers.CharField(allow_blank=True)
        pcr_result = serializers.CharField(allow_blank=True)

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request, hospital_uuid=None):
        scope = selectors.dashboard_scope_get(user=request.user, hospital_uuid=hospital_uuid)
        rows = selectors.research_export_rows(user=request.user, hospitals=scope.hospitals)
        return Response(self.OutputSerializer(rows, many=True).data)


class CandidateComparisonApi(APIView):
    """Candidate vs shown model on the same labelled studies (hospital admins: their hospital only)."""

    class FilterSerializer(serializers.Serializer):
        hospital = serializers.UUIDField(required=False, help_text="Default: the candidacy's scope.")
        label_source = serializers.ChoiceField(choices=LabelSource.choices, default=LabelSource.PCR)

    class OutputSerializer(serializers.Serializer):
        candidate = serializers.CharField()
        hospital = serializers.CharField()
        label_source = serializers.CharField()
        threshold = serializers.FloatField()
        shown_models = serializers.ListField(child=serializers.CharField())
        n = serializers.IntegerField()
        n_positive = serializers.IntegerField()
        n_negative = serializers.IntegerField()
        min_cases = serializers.IntegerField()
        too_few = serializers.BooleanField()
        a = serializers.JSONField(required=False, help_text="Shown model: binary metrics with 95 % CIs.")
        b = serializers.JSONField(required=False, help_text="Candidate: binary metrics with 95 % CIs.")
        difference = serializers.JSONField(required=False, help_text="Candidate - shown, paired bootstrap CIs.")
        kappa = serializers.FloatField(required=False, allow_null=True)
        disagreeing_studies = serializers.ListField(child=serializers.UUIDField(), required=False)
        roc = serializers.JSONField(required=False, help_text="(FPR, TPR) points per model.")

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer)
    def get(self, request, candidate_uuid):
        f = self.FilterSerializer(data=request.query_params)
        f.is_valid(raise_exception=True)
        candidate = candidate_get(user=request.user, candidate_uuid=candidate_uuid)
        hospital_uuid = f.validated_data.get("hospital")
        hospital = administered_hospital_get(user=request.user, hospital_uuid=hospital_uuid) if hospital_uuid else None
        evidence = candidate_comparison(user=request.user, candidate=candidate, hospital=hospital,
                                        label_source=f.validated_data["label_source"])
        return Response(self.OutputSerializer(evidence).data)
