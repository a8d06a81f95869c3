"""Model versions: list them and activate one (optionally re-analysing ready studies)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.core.exceptions import NotFound
from triage.results.selectors import model_version_list
from triage.results.services import activate_model_version


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


class ModelVersionActivateApi(APIView):
    class InputSerializer(serializers.Serializer):
        reference = serializers.RegexField(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$", max_length=100,
                                           help_text="<name>/<version> under inference/weights.")
        reanalyse = serializers.BooleanField(default=False,
                                             help_text="Re-queue every ready study for the new model.")

    @extend_schema(request=InputSerializer, responses=ModelVersionOutputSerializer)
    def post(self, request):
        from inference.registry import ModelNotFoundError

        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = activate_model_version(actor=request.user, **data.validated_data)
        except ModelNotFoundError as exc:
            raise NotFound("No such model version in inference/weights.") from exc
        return Response(ModelVersionOutputSerializer(version).data)
