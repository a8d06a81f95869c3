"""Administration page routes of result exports (mounted at the site root)."""
from django.urls import path

from triage.exports import views

urlpatterns = [
    path("administration/hospitals/<uuid:hospital_uuid>/exports/", views.ExportAdministrationPage.as_view(),
         name="admin-exports"),
]
