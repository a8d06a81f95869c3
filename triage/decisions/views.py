"""Server-rendered page for a hospital's decision-rule thresholds (edited by its administrators)."""
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.views import View

from triage.accounts.permissions import ADMIN_ROLES, has_role
from triage.core.pages import not_found_as_404
from triage.decisions.models import MAX_SEVERITY_TOTAL
from triage.decisions.selectors import decision_rule_get


class DecisionRulePage(LoginRequiredMixin, View):
    def get(self, request, hospital_uuid):
        with not_found_as_404():
            rule = decision_rule_get(user=request.user, hospital_uuid=hospital_uuid)
        return render(request, "decisions/rule_form.html", {
            "rule": rule, "hospital": rule.hospital, "severity_max": MAX_SEVERITY_TOTAL,
            "can_edit": has_role(user=request.user, hospital=rule.hospital, roles=ADMIN_ROLES),
        })
