"""Server-rendered pages: the radiologist worklist and the study viewer."""
from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from triage.accounts.tenancy import hospitals_visible_to
from triage.core.pages import not_found_as_404
from triage.reports.presentation import follow_up_panel
from triage.reports.selectors import follow_up_series, review_state_for
from triage.results.selectors import key_slices, known_class_labels
from triage.studies.selectors import stack_gaps_for
from triage.worklist import imaging, selectors
from triage.worklist.imaging import heatmap_colormap
from triage.worklist.filters import REVIEWED_CHOICES, WorklistQuerySerializer

POLL_INTERVAL_MS = 5000
# Set by the navigation's hospital switcher (triage.web); read here so the list opens narrowed to it.
CURRENT_HOSPITAL_SESSION_KEY = "current_hospital_uuid"


def _with_current_hospital(request) -> dict:
    """Return the non-blank query parameters, narrowed to the navigation's current hospital unless
    the form chose one (a blank ``hospital`` is the explicit "All my hospitals")."""
    chosen_in_form = "hospital" in request.GET
    params = {name: value for name, value in request.GET.items() if value != ""}  # blank = not given
    chosen = request.session.get(CURRENT_HOSPITAL_SESSION_KEY)
    if not chosen_in_form and chosen:
        params["hospital"] = chosen
    return params


class WorklistPage(LoginRequiredMixin, View):
    """The worklist; ``?partial=rows`` answers only the table body (used by live refresh)."""

    title = "Worklist"
    link_to = "viewer"
    default_reviewed = "false"  # the radiologist's to-do list

    def get(self, request):
        params = _with_current_hospital(request)
        params.setdefault("reviewed", self.default_reviewed)
        query = WorklistQuerySerializer(data=params)
        errors = {}
        if not query.is_valid():
            errors = query.errors
            query = WorklistQuerySerializer(data={})
            query.is_valid(raise_exception=True)
        page = selectors.worklist_page(user=request.user, **query.selector_kwargs())
        context = {"page": page, "query": query.validated_data, "params": params, "errors": errors,
                   "link_to": self.link_to}
        if request.GET.get("partial") == "rows":
            return render(request, "worklist/_rows.html", context)
        context.update({
            "hospitals": hospitals_visible_to(user=request.user).order_by("name"),
            "states": selectors.WorklistState.CHOICES,
            "labels": known_class_labels(),
            "reviewed_choices": REVIEWED_CHOICES,
            "poll_interval_ms": POLL_INTERVAL_MS,
            "list_title": self.title,
        })
        return render(request, "worklist/worklist.html", context)


class ReportListPage(WorklistPage):
    """The clinician's list: every study, signed or not, each linking to its structured report."""

    title = "Reports"
    link_to = "report"
    default_reviewed = "all"


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


            # ?render=png: the server-windowed PNG path (fallback, and the benchmark's baseline).
            "render": "png" if request.GET.get("render") == "png" else "raw",
            "orientation": imaging.orientation_labels(data.image_orientation_patient),
        }
        # Opens head first on the most superior key slice (else the top of the stack).
        config["firstIndex"] = max(k["index"] for k in config["keySlices"]) if config["keySlices"] else max(0, data.slice_count - 1)
        series = follow_up_series(user=request.user, study=data.study)
        config["zPositions"] = selectors.slice_z_positions(study=data.study)
        config["priors"] = [{
            "uuid": str(p.study.uuid), "label": f"{p.when:%Y-%m-%d} {p.study.accession_number}".strip(),
            "sliceUrl": reverse("study-slice", kwargs={"study_uuid": p.study.uuid, "index": 0}),
            "zPositions": selectors.slice_z_positions(study=p.study),
        } for p in series if not p.is_this_study]
        quantification = getattr(result, "quantification", None) if result else None
        return render(request, "viewer/viewer.html", {
            "study": data.study, "result": result, "quantification": quantification,
            "slice_count": data.slice_count, "viewer_config": config,
            # A lesion-feature model explains with its lesion outline; it has no pixel heatmap.
            "has_heatmap": any(o["kind"] == "gradcam" for o in data.overlays),
            "follow_up": follow_up_panel(series),
            "stack_gaps": stack_gaps_for(study=data.study),
            # The reports app's review panel (confirm/override and sign) reads these two.
            "report_state": review_state_for(study=data.study, user=request.user),
            "next_study": selectors.next_unreviewed_study(
                user=request.user, after=data.study,
                hospital_uuid=_with_current_hospital(request).get("hospital")),
        })
