"""Administration page for a hospital's DICOM nodes: the calling AE titles its C-STORE senders use.

Nodes are senders identified by their calling AE title only (no host or port is stored), so there
is nothing to C-ECHO; the page says so rather than offering a test that cannot reach anyone.
"""
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views import View

from triage.accounts.selectors import administered_hospital_get
from triage.core.exceptions import DomainError
from triage.core.pages import not_found_as_404
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
        try:
            if request.POST.get("action") == "deactivate":
                node = selectors.dicom_node_get(user=request.user, hospital=hospital,
                                                node_uuid=request.POST.get("node", ""))
                services.deactivate_dicom_node(actor=request.user, node=node)
                messages.success(request, f"{node.ae_title} deactivated: its associations are refused.")
            else:
                node = services.create_dicom_node(actor=request.user, hospital=hospital,
                                                  ae_title=request.POST.get("ae_title", ""),
                                                  description=request.POST.get("description", "").strip())
                messages.success(request, f"{node.ae_title} may now send studies to {hospital.name}.")
        except DomainError as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("admin-dicom-nodes", hospital_uuid=hospital.uuid)
