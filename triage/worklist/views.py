"""Server-rendered pages: the radiologist worklist and the study viewer."""
from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from triage.accounts.tenancy import hospitals_visible_to
from triage.core.pages import not_found_as_404
from triage.reports.selectors import review_state_for
from triage.results.models import ModelVersion
from triage.results.selectors import key_slices
from triage.worklist import imaging, selectors
from triage.worklist.imaging import heatmap_colormap
from triage.worklist.filters import REVIEWED_CHOICES, WorklistQuerySerializer

POLL_INTERVAL_MS = 5000


def _known_labels() -> list[str]:
    labels: set[str] = set()
    for names in ModelVersion.objects.values_list("class_names", flat=True):
        labels.update(str(n) for n in (names or []))
    return sorted(labels)


class WorklistPage(LoginRequiredMixin, View):
    """The worklist; ``?partial=rows`` answers only the table body (used by live refresh)."""

    def get(self, request):
        query = WorklistQuerySerializer(data=request.GET)
        errors = {}
        if not query.is_valid():
            errors = query.errors
            query = WorklistQuerySerializer(data={})
            query.is_valid(raise_exception=True)
        page = selectors.worklist_page(user=request.user, **query.selector_kwargs())
        context = {"page": page, "query": query.validated_data, "params": request.GET, "errors": errors}
        if request.GET.get("partial") == "rows":
            return render(request, "worklist/_rows.html", context)
        context.update({
            "hospitals": hospitals_visible_to(user=request.user).order_by("name"),
            "states": selectors.WorklistState.CHOICES,
            "labels": _known_labels(),
            "reviewed_choices": REVIEWED_CHOICES,
            "poll_interval_ms": POLL_INTERVAL_MS,
        })
        return render(request, "worklist/worklist.html", context)


class StudyViewerPage(LoginRequiredMixin, View):
    """The study viewer: slices, windows, overlays, slice probabilities and the study's numbers."""

    def get(self, request, study_uuid):
        with not_found_as_404():
            data = selectors.viewer_data(user=request.user, study_uuid=study_uuid)
        result = data.result
        slice_scores = list(result.slice_scores.all()) if result else []
        config = {
            "sliceCount": data.slice_count,
            "sliceUrl": reverse("study-slice", kwargs={"study_uuid": data.study.uuid, "index": 0}),
            "overlayUrl": reverse("study-overlay", kwargs={"study_uuid": data.study.uuid, "index": 0,
                                                           "kind": "gradcam"}),
            "windows": {"lung": list(imaging.LUNG_WINDOW), "mediastinal": list(imaging.MEDIASTINAL_WINDOW)},
            "sliceProbabilities": {s.slice_index: s.covid_probability for s in slice_scores},
            "keySlices": [{"index": k.index, "number": k.number} for k in key_slices(result=result)] if result else [],
            "overlays": data.overlays,
            "colormap": heatmap_colormap(),
        }
        quantification = getattr(result, "quantification", None) if result else None
        return render(request, "viewer/viewer.html", {
            "study": data.study, "result": result, "quantification": quantification,
            "slice_count": data.slice_count, "viewer_config": config,
            # The reports app's review panel (confirm/override and sign) reads these two.
            "report_state": review_state_for(study=data.study, user=request.user),
        })
