"""Thin JSON and image APIs of the worklist and the study viewer."""
from __future__ import annotations

import hashlib

from django.http import HttpResponse
from django.utils.http import quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.accounts.apis import HospitalOutputSerializer
from triage.core.exceptions import DomainError, NotFound
from triage.results import selectors as result_selectors
from triage.results.models import Overlay
from triage.core.object_store import read_content
from triage.worklist import imaging, selectors
from triage.worklist.filters import WorklistQuerySerializer

IMAGE_MAX_AGE_S = 3600
HEATMAP = "heatmap"
OVERLAY_KINDS = (*Overlay.Kind.values, HEATMAP)
BAD_WINDOW_MSG = "Invalid window: {detail}"


def _etag_matches(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(",")) or header.strip() == "*"


def _not_modified(etag: str, *, cache_control: str) -> HttpResponse:
    response = HttpResponse(status=304)
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return response


POLL_CACHE_CONTROL = "private, no-cache"


class WorklistListApi(APIView):
    """The user's worklist in triage order (overdue first, then by probability); ETag'd."""

    class OutputSerializer(serializers.Serializer):
        class RowSerializer(serializers.Serializer):
            class StudySerializer(serializers.Serializer):
                uuid = serializers.UUIDField()
                accession_number = serializers.CharField()
                patient_id = serializers.CharField()
                patient_age = serializers.CharField()
                patient_sex = serializers.CharField()
                received_at = serializers.DateTimeField()

            study = StudySerializer()
            hospital = HospitalOutputSerializer(source="entry.hospital")
            state = serializers.CharField()
            priority_reason = serializers.CharField()
            overdue = serializers.BooleanField()
            waiting_minutes = serializers.IntegerField()
            covid_probability = serializers.FloatField(source="entry.covid_probability", allow_null=True)
            not_applicable_reason = serializers.CharField(source="entry.not_applicable_reason")
            predicted_label = serializers.CharField(source="entry.predicted_label")
            lesion_fraction_both = serializers.FloatField(source="entry.lesion_fraction_both", allow_null=True)
            severity_total = serializers.IntegerField(source="entry.severity_total", allow_null=True)
            reviewed = serializers.BooleanField(source="entry.reviewed")

        count = serializers.IntegerField(help_text="Matching studies, counted up to 10000.")
        count_is_exact = serializers.BooleanField()
        overdue_count = serializers.IntegerField()
        page = serializers.IntegerField()
        page_size = serializers.IntegerField()
        page_count = serializers.IntegerField()
        results = RowSerializer(many=True, source="rows")

    @extend_schema(parameters=[WorklistQuerySerializer], responses={200: OutputSerializer})
    def get(self, request):
        query = WorklistQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        version = selectors.worklist_version(user=request.user)
        etag = quote_etag(hashlib.sha256(f"{version}|{request.GET.urlencode()}".encode()).hexdigest()[:32])
        if _etag_matches(request, etag):
            return _not_modified(etag, cache_control=POLL_CACHE_CONTROL)
        page = selectors.worklist_page(user=request.user, **query.selector_kwargs())
        response = Response(self.OutputSerializer(page).data)
        response["ETag"] = etag
        response["Cache-Control"] = POLL_CACHE_CONTROL
        return response


class WorklistVersionApi(APIView):
    """A token that changes when the user's worklist changes; poll it with If-None-Match."""

    class OutputSerializer(serializers.Serializer):
        version = serializers.CharField()

    @extend_schema(responses={200: OutputSerializer, 304: OpenApiResponse(description="Unchanged.")})
    def get(self, request):
        version = selectors.worklist_version(user=request.user)
        etag = quote_etag(version)
        if _etag_matches(request, etag):
            return _not_modified(etag, cache_control=POLL_CACHE_CONTROL)
        response = Response(self.OutputSerializer({"version": version}).data)
        response["ETag"] = etag
        response["Cache-Control"] = POLL_CACHE_CONTROL
        return response


def _image_response(request, *, etag: str, render) -> HttpResponse:
    cache_control = f"private, max-age={IMAGE_MAX_AGE_S}"
    if _etag_matches(request, etag):
        return _not_modified(etag, cache_control=cache_control)
    response = HttpResponse(render(), content_type="image/png")
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    response["X-Content-Type-Options"] = "nosniff"
    return response


class StudySliceApi(APIView):
    """One slice of the selected series as a windowed 8-bit PNG (``wl``/``ww`` in HU)."""

    class WindowSerializer(serializers.Serializer):
        wl = serializers.FloatField(default=imaging.LUNG_WINDOW[0])
        ww = serializers.FloatField(default=imaging.LUNG_WINDOW[1])

    @extend_schema(parameters=[WindowSerializer], responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request, study_uuid, index):
        window = self.WindowSerializer(data=request.query_params)
        window.is_valid(raise_exception=True)
        level_hu, width_hu = window.validated_data["wl"], window.validated_data["ww"]
        try:
            imaging.check_window(level_hu=level_hu, width_hu=width_hu)
        except ValueError as exc:
            raise DomainError(BAD_WINDOW_MSG.format(detail=exc)) from exc
        study = selectors.study_for_images(user=request.user, study_uuid=study_uuid)
        instance = selectors.slice_instance(study=study, index=index)
        etag = quote_etag(f"{instance.sha256[:24]}-{level_hu:g}-{width_hu:g}")
        return _image_response(request, etag=etag, render=lambda: imaging.render_slice_png(
            read_content(instance.storage_path), level_hu=level_hu, width_hu=width_hu))


class StudySliceRawApi(APIView):
    """One slice of the selected series as raw HU: little-endian int16, row-major (``X-Rows``, ``X-Columns``).

    The viewer windows these samples on a canvas, so a window change needs no request. Scoped and
    audited like the PNG slices (:func:`selectors.study_for_images`).
    """

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, study_uuid, index):
        study = selectors.study_for_images(user=request.user, study_uuid=study_uuid)
        instance = selectors.slice_instance(study=study, index=index)
        etag = quote_etag(f"{instance.sha256[:24]}-i16")
        cache_control = f"private, max-age={IMAGE_MAX_AGE_S}"
        if _etag_matches(request, etag):
            return _not_modified(etag, cache_control=cache_control)
        samples, rows, columns = imaging.slice_int16_le(read_content(instance.storage_path))
        response = HttpResponse(samples, content_type="application/octet-stream")
        response["ETag"] = etag
        response["Cache-Control"] = cache_control
        response["X-Rows"], response["X-Columns"] = str(rows), str(columns)
        response["X-Content-Type-Options"] = "nosniff"
        return response


class StudyOverlayApi(APIView):
    """The current result's overlay PNG of a slice (``gradcam``, ``lesion``) or the raw ``heatmap``."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request, study_uuid, index, kind):
        study = selectors.study_for_images(user=request.user, study_uuid=study_uuid)
        if kind not in OVERLAY_KINDS:
            raise NotFound(selectors.OVERLAY_NOT_FOUND_MSG)
        overlay = selectors.overlay_get(study=study, index=index,
                                        kind=Overlay.Kind.GRADCAM if kind == HEATMAP else kind)
        digest = overlay.heatmap_sha256 if kind == HEATMAP else overlay.png_sha256
        if not digest:
            raise NotFound(selectors.OVERLAY_NOT_FOUND_MSG)
        etag = quote_etag(f"{overlay.pk}-{kind}-{digest[:16]}")  # from the row: a revalidation reads no image
        read = result_selectors.overlay_heatmap if kind == HEATMAP else result_selectors.overlay_png
        return _image_response(request, etag=etag, render=lambda: read(overlay=overlay))
