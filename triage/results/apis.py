"""Model versions: list them; shadow candidacies: list, mark, end (activation and promotion, which may
re-analyse studies, are pipeline APIs; the comparison is a monitoring API)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.accounts.selectors import hospital_get
from triage.core.exceptions import NotFound
from triage.results.selectors import candidate_get, candidates_visible_to, model_version_list
from triage.results.services import end_candidacy, mark_candidate

MODEL_NOT_FOUND_MSG = "No such model version in inference/weights."


class ModelVersionOutputSerializer(serializers.Serializer):
    reference = serializers.CharField()
    weights_sha256 = serializers.CharField()
    class_names = serializers.ListField(child=serializers.CharField())
    input_size_px = serializers.IntegerField()
    is_active = serializers.BooleanField()
    registered_at = serializers.DateTimeField()


class ModelVersionListApi(APIView):
    @extend_schema(responses=ModelVersionOutputSerializer(many=True))
    def get(self, request):
        return Response(ModelVersionOutputSerializer(model_version_list(user=request.user), many=True).data)


class CandidateOutputSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    model = serializers.CharField(source="model_version.reference")
    hospital = serializers.CharField(source="hospital.code", allow_null=True, default=None,
                                     help_text="Hospital code; null: every hospital.")
    started_by = serializers.CharField(source="started_by.username", allow_null=True, default=None)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)


class CandidateCollectionApi(APIView):
    """``/api/models/candidates/``: GET the candidacies the user may see; POST marks one (platform admins)."""

    class InputSerializer(serializers.Serializer):
        reference = serializers.RegexField(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$", max_length=100,
                                           help_text="<name>/<version> under inference/weights.")
        hospital = serializers.UUIDField(required=False, allow_null=True, help_text="Omit for every hospital.")

    @extend_schema(responses=CandidateOutputSerializer(many=True))
    def get(self, request):
        return Response(CandidateOutputSerializer(candidates_visible_to(user=request.user)[:200], many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CandidateOutputSerializer})
    def post(self, request):
        from inference.registry import ModelNotFoundError

        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hospital_uuid = data.validated_data.get("hospital")
        hospital = hospital_get(user=request.user, hospital_uuid=hospital_uuid) if hospital_uuid else None
        try:
            candidate = mark_candidate(actor=request.user, reference=data.validated_data["reference"],
                                       hospital=hospital)
        except ModelNotFoundError as exc:
            raise NotFound(MODEL_NOT_FOUND_MSG) from exc
        return Response(CandidateOutputSerializer(candidate).data, status=status.HTTP_201_CREATED)


class CandidateEndApi(APIView):
    @extend_schema(request=None, responses=CandidateOutputSerializer)
    def post(self, request, candidate_uuid):
        candidate = candidate_get(user=request.user, candidate_uuid=candidate_uuid)
        return Response(CandidateOutputSerializer(end_candidacy(actor=request.user, candidate=candidate)).data)
