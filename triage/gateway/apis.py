"""Thin APIs: DICOM nodes of a hospital (admins), and DICOMweb STOW-RS (hospital-bound tokens only).

STOW-RS rules (``POST /dicomweb/studies`` and ``POST /dicomweb/studies/{StudyInstanceUID}``):

- Authentication is ``Authorization: Token <key>`` only (no session, so no CSRF surface);
  none or an invalid token → 401.
- The hospital is the token's bound hospital; a token not bound to one → 400; the token's user
  must hold a radiologist, clinician or admin role there → otherwise 403.
- The body may come with ``Content-Length`` or ``Transfer-Encoding: chunked`` (see
  :mod:`triage.gateway.http_body`).
- ``Content-Type: multipart/related; type="application/dicom"; boundary=…`` (``type`` may be
  omitted; any other type → 415). A body over ``settings.UPLOAD_MAX_BYTES`` → 413.
- The answer is DICOM JSON (``application/dicom+json``) with ReferencedSOPSequence (0008,1199)
  and FailedSOPSequence (0008,1198) + FailureReason (0008,1197): HTTP 200 when all parts were
  stored, 202 when some failed, 409 when all failed. Each failed item also carries the reason as
  text in ErrorComment (0000,0902), and the response has one ``Warning: 299`` value per distinct
  reason (RFC 9111 5.5), so a sender that logs only headers still learns why.
"""
import mmap

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import parse_header_parameters
from django.views.decorators.csrf import csrf_exempt
from pydicom.uid import ExplicitVRLittleEndian
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.accounts import selectors as account_selectors
from triage.accounts.authentication import ApiTokenAuthentication
from triage.gateway import dicomweb, qido, selectors, services, wado
from triage.core.exceptions import DomainError
from triage.gateway.exceptions import NO_PARTS_MSG, UnsupportedMediaType
from triage.gateway.http_body import request_body
from triage.gateway.multipart import BodyTooLarge, boundary_of, map_file, spool_body
from triage.studies.exceptions import UploadTooLarge
from triage.core.object_store import read_content


class DicomNodeOutputSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    ae_title = serializers.CharField()
    description = serializers.CharField()
    host = serializers.CharField()
    port = serializers.IntegerField(allow_null=True)
    is_active = serializers.BooleanField()
    hospital = serializers.UUIDField(source="hospital.uuid")
    created_at = serializers.DateTimeField()


class DicomNodeListApi(APIView):
    class InputSerializer(serializers.Serializer):
        ae_title = serializers.CharField(max_length=16, trim_whitespace=True,
                                         help_text="Calling AE title of the sender (1-16 characters, no backslash).")
        description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
        host = serializers.CharField(max_length=253, required=False, default="", allow_blank=True,
                                     help_text="Where the node answers C-ECHO (optional, with port).")
        port = serializers.IntegerField(min_value=1, max_value=65535, required=False, allow_null=True, default=None)

    @extend_schema(responses=DicomNodeOutputSerializer(many=True))
    def get(self, request, hospital_uuid):
        hospital = account_selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        nodes = selectors.dicom_node_list(user=request.user, hospital=hospital).select_related("hospital")
        return Response(DicomNodeOutputSerializer(nodes, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: DicomNodeOutputSerializer})
    def post(self, request, hospital_uuid):
        hospital = account_selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        node = services.create_dicom_node(actor=request.user, hospital=hospital, **data.validated_data)
        return Response(DicomNodeOutputSerializer(node).data, status=status.HTTP_201_CREATED)


class DicomNodeDeactivateApi(APIView):
    @extend_schema(responses=DicomNodeOutputSerializer)
    def delete(self, request, hospital_uuid, node_uuid):
        hospital = account_selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        node = selectors.dicom_node_get(user=request.user, hospital=hospital, node_uuid=node_uuid)
        node = services.deactivate_dicom_node(actor=request.user, node=node)
        return Response(DicomNodeOutputSerializer(node).data)


class EchoOutputSerializer(serializers.Serializer):
    """The answer of every "Test connection" (DICOM nodes here, export destinations in exports)."""
    ok = serializers.BooleanField()
    message = serializers.CharField()


class DicomNodeEchoApi(APIView):
    @extend_schema(request=None, responses=EchoOutputSerializer)
    def post(self, request, hospital_uuid, node_uuid):
        hospital = account_selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        node = selectors.dicom_node_get(user=request.user, hospital=hospital, node_uuid=node_uuid)
        return Response(EchoOutputSerializer(services.echo_dicom_node(actor=request.user, node=node)).data)


class DicomJsonRenderer(JSONRenderer):
    media_type = dicomweb.DICOM_JSON_MEDIA_TYPE
    format = "dicomjson"


STOW_RESPONSES = {200: OpenApiResponse(description="PS3.18 STOW-RS response: all instances stored"),
                  202: OpenApiResponse(description="Some instances failed (FailedSOPSequence)"),
                  409: OpenApiResponse(description="All instances failed")}


class StudyStoreApi(APIView):
    """DICOMweb STOW-RS; see the module docstring for the rules."""

    authentication_classes = [ApiTokenAuthentication]
    renderer_classes = [DicomJsonRenderer, JSONRenderer]
    parser_classes: list = []  # the body is read as a stream below, never through request.data

    @extend_schema(operation_id="dicomweb_studies_store", request=None, responses=STOW_RESPONSES)
    def post(self, request, study_instance_uid: str | None = None):
        hospital = selectors.stow_hospital_for(user=request.user)
        boundary = self._boundary(request.content_type or "")
        limit = settings.UPLOAD_MAX_BYTES
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            raise UploadTooLarge(limit_bytes=limit)
        try:
            spool = spool_body(request_body(request._request), max_bytes=limit)
        except BodyTooLarge:
            raise UploadTooLarge(limit_bytes=limit) from None
        with spool:
            body = map_file(spool)
            if not body:
                raise DomainError(NO_PARTS_MSG)
            try:
                outcomes = services.store_stow_instances(user=request.user, hospital=hospital, body=body,
                                                         boundary=boundary, study_instance_uid=study_instance_uid)
            finally:
                if isinstance(body, mmap.mmap):
                    body.close()
        response = Response(dicomweb.stow_response(outcomes), status=dicomweb.stow_http_status(outcomes),
                            content_type=dicomweb.DICOM_JSON_MEDIA_TYPE)
        if warning := dicomweb.stow_warning(outcomes):
            response["Warning"] = warning
        return response

    @staticmethod
    def _boundary(content_type: str) -> str:
        media_type, params = parse_header_parameters(content_type)
        part_type = params.get("type", services.DICOM_MEDIA_TYPE).lower()
        if media_type.lower() != "multipart/related" or part_type != services.DICOM_MEDIA_TYPE:
            raise UnsupportedMediaType(content_type=content_type)
        return boundary_of(content_type)



class StudyInstancesStoreApi(StudyStoreApi):
    """STOW-RS into one study: instances of any other study fail with 0xA900."""

    @extend_schema(operation_id="dicomweb_study_store", request=None, responses=STOW_RESPONSES)
    def post(self, request, study_instance_uid: str):
        return super().post(request, study_instance_uid=study_instance_uid)


# --- DICOMweb read side: QIDO-RS and WADO-RS (PS3.18 10.4, 10.6) ---------------------------
#
# Authentication: an API token (bound to a hospital: that hospital only) or a session (the
# user's hospitals). Selectors scope and audit every read (see triage.gateway.selectors).

class FirstRenderer(BaseContentNegotiation):
    """DRF negotiation that never refuses: these views negotiate DICOM media types themselves."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class DicomwebReadApi(APIView):
    renderer_classes = [DicomJsonRenderer, JSONRenderer]
    content_negotiation_class = FirstRenderer

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_cache_control(response, private=True, no_cache=True)  # patient data: never in shared caches
        if warning := getattr(request, "qido_warning", ""):
            response["Warning"] = warning
        return response

    @staticmethod
    def study_url(request, *ids: str) -> str:
        names = ("studies", "series", "instances")
        path = "/".join(f"{name}/{uid}" for name, uid in zip(names, ids))
        return request.build_absolute_uri(f"{reverse('dicomweb-qido-studies')}/{path.removeprefix('studies/')}")


class DicomwebSearchApi(DicomwebReadApi):
    level = ""

    @extend_schema(request=None, responses={200: OpenApiResponse(description="DICOM JSON array (PS3.18 10.6.3)")})
    def get(self, request, study_instance_uid: str | None = None, series_instance_uid: str | None = None):
        query = qido.parse_query(_pairs(request), level=self.level)
        if query.ignored:
            request.qido_warning = qido.ignored_warning(query.ignored)
        rows = selectors.qido_search(user=request.user, query=query, study_instance_uid=study_instance_uid,
                                     series_instance_uid=series_instance_uid)
        answers = [qido.answer_dataset(row.header, query=query, computed=row.computed,
                                       retrieve_url=self.study_url(request, *row.ids.values())) for row in rows]
        return Response(answers, content_type=dicomweb.DICOM_JSON_MEDIA_TYPE)


def _pairs(request) -> list[tuple[str, str]]:
    return [(name, value) for name, values in request.query_params.lists() for value in values]


class StudySearchApi(DicomwebSearchApi):
    level = qido.STUDY


class SeriesSearchApi(DicomwebSearchApi):
    level = qido.SERIES


class InstanceSearchApi(DicomwebSearchApi):
    level = qido.INSTANCE


WADO_MULTIPART = OpenApiResponse(description="multipart/related body (PS3.18 10.4)")


class InstancesRetrieveApi(DicomwebReadApi):
    """WADO-RS of a study, a series or one instance as ``multipart/related; type="application/dicom"``."""

    @extend_schema(request=None, responses={200: WADO_MULTIPART})
    def get(self, request, study_instance_uid: str, series_instance_uid: str | None = None,
            sop_instance_uid: str | None = None):
        transfer_syntax = wado.negotiate(request.headers.get("Accept", ""), media_type=wado.DICOM)
        instances = selectors.wado_instances(user=request.user, study_instance_uid=study_instance_uid,
                                             series_instance_uid=series_instance_uid, sop_instance_uid=sop_instance_uid)
        wado.instance_in(read_content(instances[0].storage_path), transfer_syntax=transfer_syntax)  # 406 up front
        part_type = wado.DICOM if transfer_syntax == wado.ANY_TRANSFER_SYNTAX else (
            f"{wado.DICOM}; transfer-syntax={transfer_syntax}")
        boundary = wado.new_boundary()
        parts = (wado.instance_in(read_content(i.storage_path), transfer_syntax=transfer_syntax) for i in instances)
        return StreamingHttpResponse(
            wado.multipart_body(parts, boundary=boundary, part_type=part_type),
            content_type=f'multipart/related; type="{wado.DICOM}"; boundary={boundary}')


class MetadataRetrieveApi(DicomwebReadApi):
    """WADO-RS metadata of a study, a series or one instance: a DICOM JSON array, one item per instance."""

    @extend_schema(request=None, responses={200: OpenApiResponse(description="DICOM JSON array")})
    def get(self, request, study_instance_uid: str, series_instance_uid: str | None = None,
            sop_instance_uid: str | None = None):
        instances = selectors.wado_instances(user=request.user, study_instance_uid=study_instance_uid,
                                             series_instance_uid=series_instance_uid, sop_instance_uid=sop_instance_uid)
        answers = []
        for instance in instances:
            answers.append(wado.metadata(selectors.read_header(instance),
                                         bulk_data_uri=f"{self.study_url(request, *instance.ids)}/frames/1"))
        return Response(answers, content_type=dicomweb.DICOM_JSON_MEDIA_TYPE)


class FramesRetrieveApi(DicomwebReadApi):
    """WADO-RS frames of an instance: native pixel bytes, ``multipart/related; type="application/octet-stream"``."""

    @extend_schema(request=None, responses={200: WADO_MULTIPART})
    def get(self, request, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str, frames: str):
        transfer_syntax = wado.negotiate(request.headers.get("Accept", ""), media_type=wado.OCTET_STREAM)
        if transfer_syntax not in (wado.ANY_TRANSFER_SYNTAX, ExplicitVRLittleEndian):
            raise wado.NotAcceptable(accept=request.headers.get("Accept", ""),
                                     offer=f"transfer-syntax={ExplicitVRLittleEndian} or *")
        [instance] = selectors.wado_instances(user=request.user, study_instance_uid=study_instance_uid,
                                              series_instance_uid=series_instance_uid,
                                              sop_instance_uid=sop_instance_uid)
        data = wado.frame_data(read_content(instance.storage_path), frames=frames)
        boundary = wado.new_boundary()
        part_type = f"{wado.OCTET_STREAM}; transfer-syntax={ExplicitVRLittleEndian}"
        return HttpResponse(b"".join(wado.multipart_body(data, boundary=boundary, part_type=part_type)),
                            content_type=f'multipart/related; type="{wado.OCTET_STREAM}"; '
                                         f'transfer-syntax={ExplicitVRLittleEndian}; boundary={boundary}')


class RenderedRetrieveApi(DicomwebReadApi):
    """WADO-RS rendered instance or frame (frame 1 of a CT slice): ``image/png`` or ``image/jpeg``."""

    @extend_schema(request=None, responses={(200, "image/png"): OpenApiResponse(description="Rendered image")})
    def get(self, request, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str,
            frames: str = "1"):
        media_type = wado.negotiate_rendered(request.headers.get("Accept", ""))
        [instance] = selectors.wado_instances(user=request.user, study_instance_uid=study_instance_uid,
                                              series_instance_uid=series_instance_uid,
                                              sop_instance_uid=sop_instance_uid)
        wado.parse_frames(frames, frames=1)
        image = wado.rendered(read_content(instance.storage_path), media_type=media_type,
                              window=request.query_params.get("window"))
        return HttpResponse(image, content_type=media_type)


def by_method(**views):
    """Route one DICOMweb path to one view per HTTP method (STOW-RS and QIDO/WADO share paths)."""
    def view(request, *args, **kwargs):
        handler = views.get(request.method)
        if handler is None:
            return HttpResponseNotAllowed(list(views))
        return handler(request, *args, **kwargs)
    return csrf_exempt(view)
