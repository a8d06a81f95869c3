"""API routes (mounted under /api/)."""
from django.urls import path

from triage.monitoring import apis

urlpatterns = [
    path("monitoring/metrics/", apis.DashboardMetricsApi.as_view(), name="monitoring-all-metrics"),
    path("monitoring/research-export/", apis.ResearchExportApi.as_view(), name="monitoring-all-research-export"),
    path("monitoring/hospitals/<uuid:hospital_uuid>/metrics/", apis.DashboardMetricsApi.as_view(),
         name="monitoring-metrics"),
    path("monitoring/hospitals/<uuid:hospital_uuid>/threshold/", apis.OperatingThresholdUpdateApi.as_view(),
         name="monitoring-threshold-update"),
    path("monitoring/hospitals/<uuid:hospital_uuid>/pcr-outcomes/import/", apis.PcrOutcomeImportApi.as_view(),
         name="monitoring-pcr-import-api"),
    path("monitoring/hospitals/<uuid:hospital_uuid>/research-export/", apis.ResearchExportApi.as_view(),
         name="monitoring-research-export"),
    path("models/candidates/<uuid:candidate_uuid>/comparison/", apis.CandidateComparisonApi.as_view(),
         name="candidate-comparison"),
    path("studies/<uuid:study_uuid>/fhir/", apis.StudyFhirApi.as_view(), name="study-fhir"),
]
