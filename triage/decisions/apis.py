"""Thin JSON APIs: a study's decisions and PCR outcomes; a hospital's decision rule."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.decisions import selectors, services
from triage.decisions.models import DecisionKind, PcrOutcome
from triage.studies.selectors import access_study, study_get


class DecisionOutputSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    reason = serializers.CharField()
    author = serializers.CharField(source="author.username")
    created_at = serializers.DateTimeField()
    suggested_kind = serializers.CharField()
    suggestion_reason = serializers.CharField()
    followed_suggestion = serializers.BooleanField()


class PcrOutcomeOutputSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    result = serializers.CharField()
    sample_taken_on = serializers.DateField()
    resulted_on = serializers.DateField(allow_null=True)
    entered_by = serializers.CharField(source="entered_by.username")
    entered_at = serializers.DateTimeField()
    source = serializers.CharField()
    note = serializers.CharField()
    is_current = serializers.BooleanField()
    supersedes = serializers.UUIDField(source="supersedes.uuid", allow_null=True, default=None)
    correction_reason = serializers.CharField()


class StudyDecisionListApi(APIView):
    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=DecisionKind.choices)
        reason = serializers.CharField(allow_blank=True, default="", max_length=5000)

    @extend_schema(responses=DecisionOutputSerializer(many=True))
    def get(self, request, study_uuid):
        study = access_study(user=request.user, study_uuid=study_uuid)
        return Response(DecisionOutputSerializer(selectors.decision_list(study=study), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: DecisionOutputSerializer})
    def post(self, request, study_uuid):
        study = study_get(user=request.user, study_uuid=study_uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decision = services.record_decision(study=study, actor=request.user, **data.validated_data)
        return Response(DecisionOutputSerializer(decision).data, status=status.HTTP_201_CREATED)


class StudyPcrOutcomeListApi(APIView):
    class InputSerializer(serializers.Serializer):
        result = serializers.ChoiceField(choices=PcrOutcome.Result.choices)
        sample_taken_on = serializers.DateField()
        resulted_on = serializers.DateField(required=False, allow_null=True, default=None)
        note = serializers.CharField(allow_blank=True, default="", max_length=500)
        correction_reason = serializers.CharField(allow_blank=True, default="", max_length=500)
        source = serializers.ChoiceField(choices=[PcrOutcome.Source.FORM, PcrOutcome.Source.API],
                                         default=PcrOutcome.Source.API)

    @extend_schema(responses=PcrOutcomeOutputSerializer(many=True))
    def get(self, request, study_uuid):
        study = access_study(user=request.user, study_uuid=study_uuid)
        return Response(PcrOutcomeOutputSerializer(selectors.pcr_outcome_list(study=study), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: PcrOutcomeOutputSerializer})
    def post(self, request, study_uuid):
        study = study_get(user=request.user, study_uuid=study_uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = services.record_pcr_outcome(study=study, actor=request.user, **data.validated_data)
        return Response(PcrOutcomeOutputSerializer(outcome).data, status=status.HTTP_201_CREATED)


class HospitalDecisionRuleApi(APIView):
    class RuleSerializer(serializers.Serializer):
        care_probability_threshold = serializers.FloatField(min_value=0, max_value=1)
        test_probability_threshold = serializers.FloatField(min_value=0, max_value=1)
        care_severity_threshold = serializers.IntegerField(min_value=0)
        critical_severity_threshold = serializers.IntegerField(min_value=0)

    class OutputSerializer(RuleSerializer):
        hospital = serializers.UUIDField(source="hospital.uuid")
        is_default = serializers.SerializerMethodField()
        updated_at = serializers.DateTimeField(allow_null=True)

        def get_is_default(self, rule) -> bool:
            return rule.pk is None

    @extend_schema(responses=OutputSerializer)
    def get(self, request, hospital_uuid):
        rule = selectors.decision_rule_get(user=request.user, hospital_uuid=hospital_uuid)
        return Response(self.OutputSerializer(rule).data)

    @extend_schema(request=RuleSerializer, responses=OutputSerializer)
    def put(self, request, hospital_uuid):
        rule = selectors.decision_rule_get(user=request.user, hospital_uuid=hospital_uuid)
        data = self.RuleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.update_decision_rule(hospital=rule.hospital, actor=request.user, **data.validated_data)
        return Response(self.OutputSerializer(rule).data)
