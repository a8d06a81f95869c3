"""The structured report page for clinicians: AI numbers, key images, sign-off, decisions, PCR.

It composes the reports, decisions and results apps, so it lives in the web shell above them
(the decisions app reads the signed report for its suggestion, so reports cannot import decisions).
"""
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.views import View

from triage.accounts.permissions import DECISION_ROLES, PCR_ROLES, has_role
from triage.core.pages import not_found_as_404
from triage.decisions import selectors as decision_selectors
from triage.decisions.models import DecisionKind, PcrOutcome
from triage.reports.presentation import (follow_up_panel, histogram_bars, lesion_percent, model_card_summary,
                                        zone_rows)
from triage.reports.selectors import follow_up_series, review_state_for
from triage.results.selectors import key_slices
from triage.studies.selectors import access_study
from triage.studies.selectors import stack_gaps_for

HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT = 320, 100


class StudyReportPage(LoginRequiredMixin, View):
    def get(self, request, study_uuid):
        with not_found_as_404():
            study = access_study(user=request.user, study_uuid=study_uuid)
        state = review_state_for(study=study, user=request.user)
        result = state.result
        quantification = getattr(result, "quantification", None)  # selected with the current result
        user = request.user
        key_images = key_slices(result=result) if result else []
        histogram = histogram_bars(quantification.lesion_hu_histogram, width=HISTOGRAM_WIDTH,
                                   height=HISTOGRAM_HEIGHT) if quantification else []
        context = {
            "study": study,
            "report_state": state,
            "result": result,
            "quantification": quantification,
            "histogram": histogram,
            "histogram_last": histogram[-1] if histogram else None,
            "lesion_percent": lesion_percent(quantification) if quantification else None,
            "lung_total_ml": (quantification.lung_left_ml + quantification.lung_right_ml) if quantification else None,
            "histogram_size": {"width": HISTOGRAM_WIDTH, "height": HISTOGRAM_HEIGHT},
            "zones": zone_rows(quantification.zones) if quantification else [],
            "key_images": key_images,
            "has_heatmap": any("gradcam" in image.kinds for image in key_images),
            "model_card": model_card_summary(result.model_version.card or {}) if result else None,
            "suggestion": decision_selectors.suggestion_for(study=study),
            "decision_rule": decision_selectors.decision_rule_for(hospital=study.hospital),
            "decisions": list(decision_selectors.decision_list(study=study)),
            "pcr_outcomes": list(decision_selectors.pcr_outcome_list(study=study)),
            "decision_kinds": DecisionKind.choices,
            "pcr_results": PcrOutcome.Result.choices,
            "can_decide": has_role(user=user, hospital=study.hospital, roles=DECISION_ROLES),
            "can_record_pcr": has_role(user=user, hospital=study.hospital, roles=PCR_ROLES),
            "follow_up": follow_up_panel(follow_up_series(user=user, study=study)),
            "stack_gaps": stack_gaps_for(study=study),
        }
        return render(request, "reports/report.html", context)
