"""Administration page routes of the gateway (mounted at the site root)."""
from django.urls import path

from triage.gateway import views

urlpatterns = [
    path("administration/hospitals/<uuid:hospital_uuid>/dicom-nodes/", views.DicomNodePage.as_view(),
         name="admin-dicom-nodes"),
]
