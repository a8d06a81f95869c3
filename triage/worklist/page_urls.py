"""Page routes (mounted at the site root)."""
from django.urls import path

from triage.worklist import views

urlpatterns = [
    path("worklist/", views.WorklistPage.as_view(), name="worklist"),
    path("reports/", views.ReportListPage.as_view(), name="report-list"),
    path("studies/<uuid:study_uuid>/view/", views.StudyViewerPage.as_view(), name="study-viewer"),
]
