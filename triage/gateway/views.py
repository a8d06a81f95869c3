"""Administration page for a hospital's DICOM nodes: the calling AE titles its C-STORE senders use.

A node is known by its calling AE title; where it answers C-ECHO (host and port) is optional and
only used by the page's "Test connection" (the same C-ECHO as the export destinations').
"""
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views import View

from triage.accounts.selectors import administered_hospital_get
from triage.core.exceptions import DomainError
from triage.core.pages import not_found_as_404, optional_port
from triage.gateway import selectors, services


class DicomNodePage(LoginRequiredMixin, View):
    def _hospital(self, request, hospital_uuid):
        with not_found_as_404():
            return administered_hospital_get(user=request.user, hospital_uuid=hospital_uuid)

    def get(self, request, hospital_uuid):
        hospital = self._hospital(request, hospital_uuid)
        return render(request, "gateway/dicom_nodes.html", {
            "hospital": hospital, "nodes": selectors.dicom_node_list(user=request.user, hospital=hospital)})

    def post(self, request, hospital_uuid):
        hospital = self._hospital(request, hospital_uuid)
        action, form = request.POST.get("action"), request.POST
        try:
            if action == "create":
                node = services.create_dicom_node(actor=request.user, hospital=hospital,
                                                  ae_title=form.get("ae_title", ""),
                                                  description=form.get("description", "").strip(),
                                                  host=form.get("host", ""), port=optional_port(form.get("port")))
                messages.success(request, f"{node.ae_title} may now send studies to {hospital.name}.")
                return redirect("admin-dicom-nodes", hospital_uuid=hospital.uuid)
            with not_found_as_404():
                node = selectors.dicom_node_get(user=request.user, hospital=hospital, node_uuid=form.get("node", ""))
            if action == "deactivate":
                services.deactivate_dicom_node(actor=request.user, node=node)
                messages.success(request, f"{node.ae_title} deactivated: its associations are refused.")
            elif action == "echo_address":
                services.set_dicom_node_echo_address(actor=request.user, node=node, host=form.get("host", ""),
                                                     port=optional_port(form.get("port")))
                messages.success(request, f"Saved where {node.ae_title} answers C-ECHO.")
            elif action == "echo":
                result = services.echo_dicom_node(actor=request.user, node=node)
                (messages.success if result.ok else messages.error)(request, result.message)
        except DomainError as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("admin-dicom-nodes", hospital_uuid=hospital.uuid)
