"""API routes (mounted under /api/)."""
from django.urls import path

from triage.reports import apis

urlpatterns = [
    path("studies/<uuid:study_uuid>/report/", apis.StudyReportApi.as_view(), name="study-report-api"),
    path("studies/<uuid:study_uuid>/report/sign/", apis.ReportSignApi.as_view(), name="study-report-sign"),
    path("studies/<uuid:study_uuid>/report/addenda/", apis.ReportAddendumApi.as_view(), name="study-report-addenda"),
]
