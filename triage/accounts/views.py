"""Administration pages: a hospital's users and roles, its wait cap and audit log, and the user's API tokens.

Server-rendered forms (CSRF-protected by Django's middleware) that call the same services as the
API, so every change is checked, validated and audited in one place.
"""
import csv
import io
import json
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import PasswordResetCompleteView, PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views import View

from triage.accounts import selectors, services
from triage.accounts.models import Role
from triage.accounts.permissions import ADMIN_ROLES, hospitals_with_role
from triage.core.exceptions import DomainError
from triage.core.pages import not_found_as_404


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return exc.message


class AdministrationIndexPage(LoginRequiredMixin, View):
    def get(self, request):
        hospitals = hospitals_with_role(user=request.user, roles=ADMIN_ROLES).order_by("name")
        if hospitals.count() == 1:
            return redirect("admin-hospital", hospital_uuid=hospitals.first().uuid)
        return render(request, "accounts/admin_index.html", {"hospitals": hospitals})


class HospitalAdministrationPage(LoginRequiredMixin, View):
    """Users and roles at one hospital, and its settings; each form posts an ``action``."""

    def _hospital(self, request, hospital_uuid):
        with not_found_as_404():
            return selectors.administered_hospital_get(user=request.user, hospital_uuid=hospital_uuid)

    def get(self, request, hospital_uuid):
        hospital = self._hospital(request, hospital_uuid)
        memberships = selectors.membership_list(user=request.user, hospital=hospital)
        people: dict[int, dict] = {}
        for m in memberships:
            people.setdefault(m.user_id, {"user": m.user, "memberships": []})["memberships"].append(m)
        return render(request, "accounts/hospital_admin.html", {
            "hospital": hospital, "people": list(people.values()), "roles": Role.choices,
            "invite_valid_days": round(settings.PASSWORD_RESET_TIMEOUT / 86400, 1)})

    def post(self, request, hospital_uuid):
        hospital = self._hospital(request, hospital_uuid)
        action, data, actor = request.POST.get("action", ""), request.POST, request.user
        try:
            if action == "create_user":
                services.create_user(actor=actor, hospital=hospital, username=data.get("username", "").strip(),
                                     role=data.get("role", ""), password=data.get("password", ""),
                                     email=data.get("email", "").strip())
                messages.success(request, f"Created {data.get('username', '').strip()}.")
            elif action == "invite":
                username = data.get("username", "").strip()
                try:
                    services.invite_user(actor=actor, hospital=hospital, username=username, role=data.get("role", ""),
                                         email=data.get("email", "").strip(), site_url=request.build_absolute_uri("/"))
                except OSError:  # the mail server, after the commit: the user exists
                    messages.warning(request, f"Invited {username}, but the e-mail could not be sent; "
                                              "try “Resend invite” later.")
                else:
                    messages.success(request, f"Invited {username}: they get an e-mail with a link to set a password.")
            elif action == "resend_invite":
                user = selectors.member_of_hospital_get(user=actor, hospital=hospital, user_uuid=data.get("user", ""))
                try:
                    services.resend_invite(actor=actor, hospital=hospital, user=user,
                                           site_url=request.build_absolute_uri("/"))
                except OSError:
                    messages.error(request, f"The e-mail to {user.username} could not be sent; try again later.")
                else:
                    messages.success(request, f"Sent {user.username} a new link to set a password.")
            elif action == "grant":
                user = selectors.member_get(user=actor, hospital=hospital, username=data.get("username", "").strip())
                services.grant_membership(actor=actor, hospital=hospital, user=user, role=data.get("role", ""))
                messages.success(request, f"Granted {Role(data['role']).label} to {user.username}.")
            elif action == "revoke":
                membership = selectors.membership_get(user=actor, hospital=hospital,
                                                      membership_uuid=data.get("membership", ""))
                services.revoke_membership(actor=actor, membership=membership)
                messages.success(request, f"Revoked {membership.get_role_display()} from {membership.user.username}.")
            elif action == "deactivate":
                user = selectors.member_of_hospital_get(user=actor, hospital=hospital, user_uuid=data.get("user", ""))
                services.deactivate_user(actor=actor, hospital=hospital, user=user)
                messages.success(request, f"Deactivated {user.username}: they can no longer sign in.")
            elif action == "wait_cap":
                services.update_hospital_wait_cap(actor=actor, hospital=hospital,
                                                  max_wait_minutes=int(data.get("max_wait_minutes", "")))
                messages.success(request, "Saved the wait cap.")
            else:
                messages.error(request, f"Unknown action {action!r}.")
        except (DomainError, ValidationError) as exc:
            messages.error(request, _error_text(exc))
        except ValueError:
            messages.error(request, "Enter whole numbers and valid choices.")
        return redirect(reverse("admin-hospital", kwargs={"hospital_uuid": hospital.uuid}))


class SetPasswordPage(PasswordResetConfirmView):
    """An invited user's first password, from the link in the invitation (one use; expires)."""

    template_name = "registration/set_password.html"
    success_url = reverse_lazy("set-password-done")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.record_password_set(user=form.user)
        return response


class SetPasswordDonePage(PasswordResetCompleteView):
    template_name = "registration/set_password_done.html"


class TokenPage(LoginRequiredMixin, View):
    """The user's API tokens: create one (its key is shown on this response only) or revoke one."""

    def _render(self, request, *, new_key: str = ""):
        return render(request, "accounts/tokens.html", {
            "tokens": selectors.token_list(user=request.user), "new_key": new_key,
            "hospitals": selectors.hospital_list(user=request.user).order_by("name")})

    def get(self, request):
        return self._render(request)

    def post(self, request):
        try:
            if request.POST.get("action") == "revoke":
                token = selectors.token_get(user=request.user, token_uuid=request.POST.get("token", ""))
                services.revoke_api_token(actor=request.user, token=token)
                messages.success(request, f"Revoked {token.name}.")
                return redirect("admin-tokens")
            hospital_uuid = request.POST.get("hospital", "")
            hospital = (selectors.hospital_get(user=request.user, hospital_uuid=hospital_uuid)
                        if hospital_uuid else None)
            token, key = services.create_api_token(actor=request.user, name=request.POST.get("name", "").strip(),
                                                   hospital=hospital)
        except (DomainError, ValidationError) as exc:
            messages.error(request, _error_text(exc))
            return redirect("admin-tokens")
        return self._render(request, new_key=key)


PAGE_SIZE = 100
CSV_MAX_ROWS = 50_000
CSV_COLUMNS = ("at", "actor_username", "action", "object_type", "object_id", "ip_address", "extra")


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="Who (username starts with)")
    action = forms.CharField(required=False, max_length=64, label="Action (starts with, e.g. study.)")
    study = forms.CharField(required=False, max_length=64, label="Object id (e.g. a study UUID)")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The start date must not be after the end date.")
        return data

    def filters(self) -> selectors.AuditFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return selectors.AuditFilters(actor=data.get("actor", ""), action=data.get("action", ""),
                            object_id=data.get("study", ""), since=data.get("since"), until=data.get("until"))


class AuditLogPage(LoginRequiredMixin, View):
    """One hospital's audit log; ``?format=csv`` downloads the filtered rows."""

    def get(self, request, hospital_uuid):
        with not_found_as_404():
            hospital = selectors.administered_hospital_get(user=request.user, hospital_uuid=hospital_uuid)
        form = AuditFilterForm(request.GET or None)
        events = selectors.audit_event_list(user=request.user, hospital=hospital,
                                  filters=form.filters() if form.is_bound else None)
        if request.GET.get("format") == "csv":
            return _csv(events[:CSV_MAX_ROWS], filename=f"audit-{hospital.code}.csv")
        page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
        # Page links carry the filters only: echoing any other parameter would repeat whatever was sent.
        query = {name: request.GET[name] for name in AuditFilterForm.base_fields if request.GET.get(name)}
        return render(request, "audit/log.html", {"hospital": hospital, "form": form, "page": page,
                                                  "query": urlencode(query)})


def _csv(events, *, filename: str) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in events.iterator():
        writer.writerow([event.at.isoformat(), event.actor_username, event.action, event.object_type,
                         event.object_id, event.ip_address or "", json.dumps(event.extra, sort_keys=True)])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
