"""Model versions: list them (activation, which may re-analyse studies, is a pipeline API)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.results.selectors import model_version_list


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
