"""Administration page of a hospital's result exports: destinations, when to send, the export log.

Server-rendered forms (CSRF-protected by Django's middleware) calling the same services as the
API, so every change is checked and audited in one place. A stored password is never put back
into the page: the edit form's password field starts empty and an empty field keeps it.
"""
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from triage.accounts.selectors import administered_hospital_get
from triage.core.exceptions import DomainError
from triage.core.pages import not_found_as_404, optional_port
from triage.exports import selectors, services
from triage.exports.models import Destination, ExportJob, SendOn

RESENDABLE = (ExportJob.Status.SENT, ExportJob.Status.FAILED)


def _study_filter(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


def _address(form) -> dict:
    return {"ae_title": form.get("ae_title", ""), "host": form.get("host", ""),
            "port": optional_port(form.get("port")), "url": form.get("url", ""),
            "username": form.get("username", "")}


class ExportAdministrationPage(LoginRequiredMixin, View):
    """Each form posts an ``action``: send_on, create, update, delete, echo or resend."""

    def _hospital(self, request, hospital_uuid):
        with not_found_as_404():
            return administered_hospital_get(user=request.user, hospital_uuid=hospital_uuid)

    def get(self, request, hospital_uuid):
        hospital = self._hospital(request, hospital_uuid)
        study_uuid = _study_filter(request.GET.get("study"))
        return render(request, "exports/exports_admin.html", {
            "hospital": hospital,
            "destinations": selectors.destination_list(user=request.user, hospital=hospital),
            "send_on": selectors.send_on_get(user=request.user, hospital=hospital),
            "send_on_choices": SendOn.choices,
            "kinds": Destination.Kind.choices,
            "jobs": selectors.hospital_export_log(user=request.user, hospital=hospital, study_uuid=study_uuid),
            "study_filter": study_uuid,
            "resendable": RESENDABLE,
        })

    def post(self, request, hospital_uuid):
        hospital = self._hospital(request, hospital_uuid)
        action, form, actor = request.POST.get("action", ""), request.POST, request.user
        back = reverse("admin-exports", kwargs={"hospital_uuid": hospital.uuid})
        try:
            if action == "send_on":
                services.set_send_on(actor=actor, hospital=hospital, send_on=form.get("send_on", ""))
                messages.success(request, f"Saved: {SendOn(form['send_on']).label}.")
            elif action == "create":
                destination = services.create_destination(
                    actor=actor, hospital=hospital, name=form.get("name", "").strip(), kind=form.get("kind", ""),
                    password=form.get("password", ""), **_address(form))
                messages.success(request, f"Destination {destination.name} added.")
            elif action == "resend":
                with not_found_as_404():
                    job = selectors.export_job_get(user=actor, job_uuid=form.get("job", ""))
                if job.destination.hospital_id != hospital.id:
                    raise Http404()
                services.request_resend(actor=actor, job=job)
                messages.success(request, f"Re-sending to {job.destination.name}.")
                back += f"?study={job.study.uuid}" if form.get("study") else ""
            else:
                self._on_destination(request, hospital=hospital, action=action)
        except (DomainError, ValidationError) as exc:
            messages.error(request, " ".join(exc.messages) if isinstance(exc, ValidationError) else exc.message)
        return redirect(back)

    def _on_destination(self, request, *, hospital, action: str) -> None:
        form, actor = request.POST, request.user
        with not_found_as_404():
            destination = selectors.destination_get(user=actor, hospital=hospital,
                                                    destination_uuid=form.get("destination", ""))
        if action == "update":
            password = form.get("password", "")
            services.update_destination(
                actor=actor, destination=destination, name=form.get("name", ""),
                password="" if form.get("clear_password") else (password or None),
                is_active=bool(form.get("is_active")), **_address(form))
            messages.success(request, f"Destination {destination.name} saved.")
        elif action == "delete":
            if services.delete_destination(actor=actor, destination=destination):
                messages.success(request, f"Destination {destination.name} deleted.")
            else:
                messages.success(request, f"{destination.name} has an export log, so it was deactivated "
                                          f"(nothing more is sent there) rather than deleted.")
        elif action == "echo":
            result = services.echo_destination(actor=actor, destination=destination)
            (messages.success if result.ok else messages.error)(request, result.message)
        else:
            raise DomainError(f"Unknown action {action!r}.")
