"""Thin JSON APIs that start pipeline work: upload, reprocess, activate a model (with re-analysis).

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
from triage.core.exceptions import DomainError, NotFound
from triage.monitoring.training_export import LabelSource
from triage.pipeline import services
from triage.pipeline.shadow import promote_reviewed_candidate
from triage.results.apis import ModelVersionOutputSerializer
from triage.results.selectors import candidate_get
from triage.studies import selectors as study_selectors
from triage.studies.apis import (NothingAccepted, StudyListApi, StudySummarySerializer, UploadReportSerializer,
                                 check_upload_size)
from triage.studies.exceptions import NO_FILES_MSG, NOTHING_ACCEPTED_MSG, UploadTooLarge
from triage.studies.models import Study
from triage.studies.services.receiving import FileStatus
from triage.studies.uploads import IncomingFile


class StudyCollectionApi(StudyListApi):
    """``/api/studies/``: GET lists studies (the studies app's list), POST uploads and hands over to ingest."""

    class InputSerializer(serializers.Serializer):
        hospital = serializers.UUIDField()
        source = serializers.ChoiceField(choices=[Study.Source.API, Study.Source.WEB], default=Study.Source.API)

    def initial(self, request, *args, **kwargs):
        # Before authentication: the CSRF check of session authentication parses the body.
        if request.method == "POST":
            check_upload_size(request)
        super().initial(request, *args, **kwargs)

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
        report = services.receive_upload(
            hospital=hospital, uploaded_by=request.user, source=data.validated_data["source"],
            files=[IncomingFile(name=u.name, stream=u) for u in uploads],
        )
        body = UploadReportSerializer(report).data
        if report.all_rejected:
            raise NothingAccepted(NOTHING_ACCEPTED_MSG, extra=body)
        code = status.HTTP_200_OK if report.count(FileStatus.REJECTED) else status.HTTP_201_CREATED
        return Response(body, status=code)


class StudyReprocessApi(APIView):
    @extend_schema(request=None, responses=StudySummarySerializer)
    def post(self, request, study_uuid):
        study = study_selectors.study_get(user=request.user, study_uuid=study_uuid)
        study = services.reprocess_study(actor=request.user, study=study)
        return Response(StudySummarySerializer(study).data)


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
            version = services.activate_model_version(actor=request.user, **data.validated_data)
        except ModelNotFoundError as exc:
            raise NotFound("No such model version in inference/weights.") from exc
        return Response(ModelVersionOutputSerializer(version).data)


class CandidatePromoteApi(APIView):
    """Promote a shadow candidate to the active model (platform admins), on the comparison read first.

    ``reviewed_n`` is the ``n`` of the comparison the caller read (``GET .../comparison/``): if new
    outcomes changed it meanwhile the answer is 409 and nothing changes.
    """

    class InputSerializer(serializers.Serializer):
        reviewed_n = serializers.IntegerField(min_value=0, help_text="n of the comparison that was reviewed.")
        label_source = serializers.ChoiceField(choices=LabelSource.choices, default=LabelSource.PCR)
        reanalyse = serializers.BooleanField(default=False, help_text="Re-queue every ready study for the new model.")

    @extend_schema(request=InputSerializer, responses=ModelVersionOutputSerializer)
    def post(self, request, candidate_uuid):
        candidate = candidate_get(user=request.user, candidate_uuid=candidate_uuid)  # not yours: 404 before any 400
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = promote_reviewed_candidate(actor=request.user, candidate=candidate, **data.validated_data)
        return Response(ModelVersionOutputSerializer(version).data)
