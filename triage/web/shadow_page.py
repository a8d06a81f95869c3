"""Shadow mode pages: mark or end a candidate model, compare it with the shown model on local outcomes, promote it.

They compose ``results`` (candidacies), ``monitoring`` (the comparison) and ``pipeline`` (promotion
re-analyses through model activation), so they live in the web shell above those apps. Platform
admins act; hospital admins read the candidacies and comparisons of the hospitals they administer.
"""
from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View

from triage.accounts.permissions import ADMIN_ROLES, acts_as_platform_admin, hospitals_with_role
from triage.accounts.selectors import administered_hospital_get, hospital_get
from triage.core.exceptions import DomainError
from triage.core.pages import not_found_as_404
from triage.monitoring import charts
from triage.monitoring.shadow import candidate_comparison
from triage.monitoring.training_export import LabelSource
from triage.pipeline.shadow import promote_reviewed_candidate
from triage.results.selectors import active_model_version, candidate_get, candidates_visible_to
from triage.results.services import end_candidacy, mark_candidate

METRICS = (("auc", "ROC-AUC"), ("sensitivity", "Sensitivity"), ("specificity", "Specificity"), ("ppv", "PPV"),
           ("npv", "NPV"))


def _uuid_or_none(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


def _metric_rows(evidence: dict) -> list[dict]:
    """Shown, candidate and paired difference per metric; "too few" rests on the class a metric needs."""
    supporting = {"sensitivity": evidence["n_positive"], "specificity": evidence["n_negative"]}
    rows = []
    for key, label in METRICS:
        n = supporting.get(key, min(evidence["n_positive"], evidence["n_negative"]))
        rows.append({"key": key, "label": label, "n": n, "too_few": n < evidence["min_cases"],
                     "shown": evidence["a"][key], "candidate": evidence["b"][key],
                     "difference": evidence["difference"][key]})
    return rows


def _scopes(user, candidate) -> list[tuple[str, UUID | None]]:
    """The hospitals (and, for platform admins, the pooled view) this user may compare the candidacy on."""
    if candidate.hospital is not None:
        return [(candidate.hospital.name, candidate.hospital.uuid)]
    pooled = [("All hospitals", None)] if acts_as_platform_admin(user=user) else []
    return pooled + [(h.name, h.uuid) for h in hospitals_with_role(user=user, roles=ADMIN_ROLES).order_by("name")]


class ShadowIndexPage(LoginRequiredMixin, View):
    """Every candidacy the user may see; platform admins also get the form to mark one."""

    def get(self, request):
        from inference.registry import model_references

        can_act = acts_as_platform_admin(user=request.user)
        active = active_model_version()
        return render(request, "monitoring/shadow_index.html", {
            "candidates": list(candidates_visible_to(user=request.user)[:100]),
            "administers": can_act or hospitals_with_role(user=request.user, roles=ADMIN_ROLES).exists(),
            "can_act": can_act, "active": active,
            "references": [r for r in model_references() if active is None or r != active.reference] if can_act else [],
            "hospitals": list(hospitals_with_role(user=request.user, roles=ADMIN_ROLES).order_by("name")) if can_act else [],
        })


class ShadowMarkPage(LoginRequiredMixin, View):
    def post(self, request):
        from inference.registry import ModelNotFoundError

        hospital_uuid = _uuid_or_none(request.POST.get("hospital"))
        try:
            with not_found_as_404():
                hospital = hospital_get(user=request.user, hospital_uuid=hospital_uuid) if hospital_uuid else None
            candidate = mark_candidate(actor=request.user, reference=request.POST.get("reference", ""),
                                       hospital=hospital)
        except ModelNotFoundError:
            messages.error(request, "No such model version in inference/weights.")
            return redirect("shadow-index")
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("shadow-index")
        messages.success(request, f"{candidate.model_version.reference} now runs in shadow on new studies of "
                                  f"{candidate.hospital.name if candidate.hospital else 'every hospital'}.")
        return redirect("shadow-candidate", candidate_uuid=candidate.uuid)


class ShadowEndPage(LoginRequiredMixin, View):
    def post(self, request, candidate_uuid):
        with not_found_as_404():
            candidate = candidate_get(user=request.user, candidate_uuid=candidate_uuid)
        end_candidacy(actor=request.user, candidate=candidate)
        messages.success(request, f"{candidate.model_version.reference} no longer runs in shadow; its results stay.")
        return redirect("shadow-index")


class ShadowCandidatePage(LoginRequiredMixin, View):
    """The paired comparison on one scope and reference (PCR or signed reads), with the promotion form."""

    def get(self, request, candidate_uuid):
        label_source = request.GET.get("label", LabelSource.PCR)
        if label_source not in LabelSource.values:
            label_source = LabelSource.PCR
        with not_found_as_404():
            candidate = candidate_get(user=request.user, candidate_uuid=candidate_uuid)
            scopes = _scopes(request.user, candidate)
            requested = _uuid_or_none(request.GET.get("hospital"))
            scope_uuid = requested if any(u == requested for _, u in scopes) else (scopes[0][1] if scopes else None)
            hospital = administered_hospital_get(user=request.user, hospital_uuid=scope_uuid) if scope_uuid else None
            evidence = candidate_comparison(user=request.user, candidate=candidate, hospital=hospital,
                                            label_source=label_source)
        roc = evidence.get("roc", {})
        return render(request, "monitoring/shadow_candidate.html", {
            "candidate": candidate, "evidence": evidence, "rows": _metric_rows(evidence) if evidence["n"] else [],
            "scopes": scopes, "scope_uuid": scope_uuid, "label_source": label_source,
            "label_sources": LabelSource.choices,
            "can_promote": acts_as_platform_admin(user=request.user) and candidate.ended_at is None
                           and hospital == candidate.hospital,
            "roc_chart": charts.curves_chart(
                [("shown", roc.get("shown", [])), ("candidate", roc.get("candidate", []))],
                title="ROC curves on the same studies", x_label="1 − specificity", y_label="sensitivity")
            if roc else "",
        })


class ShadowPromotePage(LoginRequiredMixin, View):
    def post(self, request, candidate_uuid):
        with not_found_as_404():  # not yours: the 404 comes before any form message
            candidate = candidate_get(user=request.user, candidate_uuid=candidate_uuid)
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Tick the confirmation to promote.")
            return redirect("shadow-candidate", candidate_uuid=candidate_uuid)
        try:
            reviewed_n = int(request.POST.get("reviewed_n", ""))
        except ValueError:
            messages.error(request, "The reviewed comparison is missing; open it again.")
            return redirect("shadow-candidate", candidate_uuid=candidate_uuid)
        label_source = request.POST.get("label_source", LabelSource.PCR)
        try:
            with not_found_as_404():
                version = promote_reviewed_candidate(
                    actor=request.user, candidate=candidate, reviewed_n=reviewed_n,
                    label_source=label_source if label_source in LabelSource.values else LabelSource.PCR,
                    reanalyse=request.POST.get("reanalyse") == "yes")
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("shadow-candidate", candidate_uuid=candidate_uuid)
        messages.success(request, f"{version.reference} is now the active model"
                                  f"{'; ready studies are re-analysed' if request.POST.get('reanalyse') == 'yes' else ''}.")
        return redirect("shadow-index")
