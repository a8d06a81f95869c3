from django.urls import path

from triage.exports import apis

urlpatterns = [
    path("hospitals/<uuid:hospital_uuid>/export-destinations/", apis.DestinationListApi.as_view(),
         name="export-destination-list"),
    path("hospitals/<uuid:hospital_uuid>/export-destinations/<uuid:destination_uuid>/",
         apis.DestinationDetailApi.as_view(), name="export-destination-detail"),
    path("hospitals/<uuid:hospital_uuid>/export-destinations/<uuid:destination_uuid>/echo/",
         apis.DestinationEchoApi.as_view(), name="export-destination-echo"),
    path("hospitals/<uuid:hospital_uuid>/export-settings/", apis.ExportSettingsApi.as_view(),
         name="export-settings"),
    path("studies/<uuid:study_uuid>/exports/", apis.StudyExportListApi.as_view(), name="study-export-list"),
    path("exports/<uuid:job_uuid>/resend/", apis.ExportResendApi.as_view(), name="export-resend"),
]
