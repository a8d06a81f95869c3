"""Page routes (mounted at the site root)."""
from django.urls import path

from triage.reports import views

urlpatterns = [
    path("studies/<uuid:study_uuid>/report/", views.StudyReportPage.as_view(), name="study-report"),
]
