"""Thin JSON APIs: read a study's report, sign it, add an addendum.

Signing carries ``expected_version`` (the latest version the radiologist saw, 0 for none);
a stale one answers 409 ``{"message": "Another radiologist signed this study at HH:MM; ...",
"extra": {"current_version", "signed_at"}}``. A study with missing slices needs
``confirmed_incomplete: true``; without it the answer is 400 ``{"message": "This series is incomplete (about 3
slices missing after slice 5); ...", "extra": {"field": "confirmed_incomplete", "missing_slices", "gaps"}}``.
"""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.reports import selectors, services
from triage.studies.selectors import access_study, study_get


class ReportOutputSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    version = serializers.IntegerField()
    kind = serializers.CharField()
    ai_result = serializers.UUIDField(source="ai_result.uuid")
    ai_label = serializers.CharField()
    ai_covid_probability = serializers.FloatField()
    radiologist_label = serializers.CharField()
    verdict = serializers.CharField()
    comment = serializers.CharField()
    signed_by = serializers.CharField(source="signed_by.username")
    signed_at = serializers.DateTimeField()
    supersedes = serializers.UUIDField(source="supersedes.uuid", allow_null=True, default=None)


class StudyReportApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class ResultSerializer(serializers.Serializer):
            uuid = serializers.UUIDField()
            predicted_label = serializers.CharField()
            covid_probability = serializers.FloatField()
            model = serializers.CharField(source="model_version.name")
            model_version = serializers.CharField(source="model_version.version")

        study = serializers.UUIDField(source="study.uuid")
        version = serializers.IntegerField()
        is_reviewed = serializers.BooleanField()
        labels = serializers.ListField(child=serializers.CharField())
        result = ResultSerializer(allow_null=True)
        reports = ReportOutputSerializer(many=True, source="history")

    @extend_schema(responses=OutputSerializer)
    def get(self, request, study_uuid):
        study = access_study(user=request.user, study_uuid=study_uuid)
        return Response(self.OutputSerializer(selectors.review_state_for(study=study, user=request.user)).data)


class ReportSignApi(APIView):
    class InputSerializer(serializers.Serializer):
        label = serializers.CharField(max_length=32)
        comment = serializers.CharField(allow_blank=True, default="", max_length=5000)
        expected_version = serializers.IntegerField(min_value=0)
        confirmed_incomplete = serializers.BooleanField(
            default=False, help_text="Required true when the study's series has missing slices (flagged "
                                     "'Incomplete' on the worklist, viewer and report): the reader confirms they saw it is incomplete. Without it "
                                     "such a sign-off answers 400 naming the missing slices.")

    @extend_schema(request=InputSerializer, responses={201: ReportOutputSerializer})
    def post(self, request, study_uuid):
        study = study_get(user=request.user, study_uuid=study_uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.sign_report(study=study, actor=request.user, **data.validated_data)
        return Response(ReportOutputSerializer(report).data, status=status.HTTP_201_CREATED)


class ReportAddendumApi(APIView):
    class InputSerializer(serializers.Serializer):
        label = serializers.CharField(max_length=32, required=False, allow_null=True, default=None,
                                      help_text="Omit to keep the latest version's label.")
        comment = serializers.CharField(max_length=5000)
        expected_version = serializers.IntegerField(min_value=1)

    @extend_schema(request=InputSerializer, responses={201: ReportOutputSerializer})
    def post(self, request, study_uuid):
        study = study_get(user=request.user, study_uuid=study_uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.add_addendum(study=study, actor=request.user, **data.validated_data)
        return Response(ReportOutputSerializer(report).data, status=status.HTTP_201_CREATED)
