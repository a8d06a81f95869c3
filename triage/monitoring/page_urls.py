"""Page routes (mounted at the site root)."""
from django.urls import path

from triage.monitoring import views

urlpatterns = [
    path("monitoring/", views.MonitoringIndexPage.as_view(), name="monitoring-index"),
    path("monitoring/all/", views.DashboardPage.as_view(), name="monitoring-all"),
    path("monitoring/all/metrics.csv", views.MetricsCsvPage.as_view(), name="monitoring-all-metrics-csv"),
    path("monitoring/all/research.csv", views.ResearchExportPage.as_view(), name="monitoring-all-research-csv"),
    path("monitoring/all/research-dicom.zip", views.ResearchDicomExportPage.as_view(),
         name="monitoring-all-research-dicom"),
    path("monitoring/hospitals/<uuid:hospital_uuid>/", views.DashboardPage.as_view(), name="monitoring-hospital"),
    path("monitoring/hospitals/<uuid:hospital_uuid>/threshold/", views.OperatingThresholdPage.as_view(),
         name="monitoring-threshold"),
    path("monitoring/hospitals/<uuid:hospital_uuid>/pcr-import/", views.PcrImportPage.as_view(),
         name="monitoring-pcr-import"),
    path("monitoring/hospitals/<uuid:hospital_uuid>/metrics.csv", views.MetricsCsvPage.as_view(),
         name="monitoring-metrics-csv"),
    path("monitoring/hospitals/<uuid:hospital_uuid>/research.csv", views.ResearchExportPage.as_view(),
         name="monitoring-research-csv"),
    path("monitoring/hospitals/<uuid:hospital_uuid>/research-dicom.zip", views.ResearchDicomExportPage.as_view(),
         name="monitoring-research-dicom"),
]
