"""Server-rendered monitoring pages: dashboards, threshold form, PCR CSV import, CSV downloads."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from triage.core.exceptions import DomainError
from triage.core.pages import not_found_as_404
from triage.monitoring import charts, selectors, services
from triage.monitoring import evaluation as ev
from triage.monitoring.exports import research_csv
from triage.monitoring.models import DEFAULT_OPERATING_THRESHOLD

METRIC_ROWS = (("accuracy", "Accuracy"), ("sensitivity", "Sensitivity"), ("specificity", "Specificity"),
               ("ppv", "PPV"), ("npv", "NPV"), ("f1", "F1"), ("auc", "ROC-AUC"))


def _metric_table(comparison: ev.Comparison) -> list[dict]:
    """Rows of one reader's metric table; a metric resting on too few cases in a PCR class says so instead."""
    rows = []
    for key, label in METRIC_ROWS:
        m = comparison.metrics.get(key) or {"value": None, "ci95": None}
        n = comparison.supporting_cases(key)
        rows.append({"key": key, "label": label, "value": m["value"], "ci95": m["ci95"], "n": n,
                     "too_few": n < ev.MIN_CASES_PER_CLASS})
    return rows


def _scope(request, hospital_uuid):
    with not_found_as_404():
        return selectors.dashboard_scope_get(user=request.user, hospital_uuid=hospital_uuid)


def _attachment(content, filename: str, *, content_type: str = "text/csv; charset=utf-8") -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"  # exports hold patient-derived data: no shared caches
    return response


class MonitoringIndexPage(LoginRequiredMixin, View):
    def get(self, request):
        return render(request, "monitoring/index.html", {
            "hospitals": selectors.admin_hospitals_for(user=request.user),
            "can_see_all": request.user.is_platform_admin})


class DashboardPage(LoginRequiredMixin, View):
    """One hospital's dashboard (``hospital_uuid``) or the pooled one (no ``hospital_uuid``)."""

    def get(self, request, hospital_uuid=None):
        scope = _scope(request, hospital_uuid)
        evaluation = selectors.evaluation_for(user=request.user, hospitals=scope.hospitals)
        operations = selectors.operations_for(user=request.user, hospitals=scope.hospitals)
        comparisons = [(c, _metric_table(c)) for c in (evaluation.model, evaluation.radiologist) if c is not None]
        model_auc = next((row for row in _metric_table(evaluation.model) if row["key"] == "auc"), None) \
            if evaluation.model else None
        return render(request, "monitoring/dashboard.html", {
            "scope": scope, "evaluation": evaluation, "operations": operations,
            "comparisons": comparisons, "model_auc": model_auc,
            "kappa_too_few": evaluation.n_kappa < ev.MIN_CASES_PER_CLASS, "min_cases": ev.MIN_CASES_PER_CLASS,
            "default_threshold": DEFAULT_OPERATING_THRESHOLD,
            "roc_chart": charts.unit_square_chart(evaluation.roc, title="ROC curve, model vs PCR",
                                                  x_label="1 − specificity", y_label="sensitivity"),
            "reliability_chart": charts.unit_square_chart(
                [(r["mean_predicted"], r["fraction_positive"]) for r in evaluation.reliability],
                title="Reliability: observed PCR-positive fraction per probability bin",
                x_label="mean predicted probability", y_label="fraction PCR positive", markers=True),
            "drift_chart": charts.drift_chart(evaluation.drift, title="Weekly probability: median, IQR, positive rate")
            if evaluation.drift else "",
            "per_day_chart": charts.bar_chart(operations.studies_per_day, title="Studies received per day"),
        })


class OperatingThresholdPage(LoginRequiredMixin, View):
    def post(self, request, hospital_uuid):
        scope = _scope(request, hospital_uuid)
        try:
            threshold = float(request.POST.get("operating_threshold", ""))
            services.update_operating_threshold(hospital=scope.hospital, actor=request.user,
                                                operating_threshold=threshold)
        except ValueError:
            messages.error(request, "Enter the threshold as a number between 0 and 1.")
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Operating threshold set to {threshold:g}.")
        return redirect("monitoring-hospital", hospital_uuid=hospital_uuid)


class PcrImportPage(LoginRequiredMixin, View):
    """Upload a PCR outcome CSV: "Check" validates it (dry run); "Import" imports it when it has no errors."""

    def get(self, request, hospital_uuid):
        scope = _scope(request, hospital_uuid)
        return render(request, "monitoring/pcr_import.html", {"scope": scope, "report": None})

    def post(self, request, hospital_uuid):
        scope = _scope(request, hospital_uuid)
        upload = request.FILES.get("file")
        # After "Check" the page carries the checked file back (a browser cannot refill a file input), so
        # "Import" needs no second pick. It is validated again on import like any upload.
        data = upload.read() if upload is not None else request.POST.get("checked_csv", "").encode()
        name = upload.name if upload is not None else request.POST.get("checked_name", "")
        report, error, dry_run = None, "", request.POST.get("action") != "import"
        if not data:
            error = "Choose a CSV file."
        else:
            try:
                report = services.import_pcr_outcomes(hospital=scope.hospital, actor=request.user,
                                                      data=data, dry_run=dry_run).as_dict()
            except services.errors.PcrImportHasErrors as exc:
                report, error = exc.extra["report"], exc.message
            except DomainError as exc:
                error = exc.message
        checked = {"csv": data.decode("utf-8", errors="replace"), "name": name} \
            if data and dry_run and report is not None else None
        status = 422 if error else 200
        return render(request, "monitoring/pcr_import.html",
                      {"scope": scope, "report": report, "error": error, "checked": checked}, status=status)


class MetricsCsvPage(LoginRequiredMixin, View):
    def get(self, request, hospital_uuid=None):
        scope = _scope(request, hospital_uuid)
        return _attachment(selectors.metrics_csv_get(user=request.user, scope=scope), f"metrics-{scope.slug}.csv")


class ResearchExportPage(LoginRequiredMixin, View):
    def get(self, request, hospital_uuid=None):
        scope = _scope(request, hospital_uuid)
        rows = selectors.research_export_rows(user=request.user, hospitals=scope.hospitals)
        return _attachment(research_csv(rows), f"research-{scope.slug}.csv")


class ResearchDicomExportPage(LoginRequiredMixin, View):
    """The research export's images: de-identified DICOM files of the same studies, in one zip."""

    def get(self, request, hospital_uuid=None):
        scope = _scope(request, hospital_uuid)
        export = selectors.research_dicom_export(user=request.user, hospitals=scope.hospitals)
        return _attachment(export.zip_bytes, f"research-{scope.slug}-dicom.zip", content_type="application/zip")

