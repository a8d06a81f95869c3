from django.urls import path

from triage.exports import apis

urlpatterns = [
    path("hospitals/<uuid:hospital_uuid>/export-destinations/", apis.DestinationListApi.as_view(),
         name="export-destination-list"),
    path("hospitals/<uuid:hospital_uuid>/export-destinations/<uuid:destination_uuid>/",
         apis.DestinationDeactivateApi.as_view(), name="export-destination-deactivate"),
    path("hospitals/<uuid:hospital_uuid>/export-destinations/<uuid:destination_uuid>/echo/",
         apis.DestinationEchoApi.as_view(), name="export-destination-echo"),
    path("studies/<uuid:study_uuid>/exports/", apis.StudyExportListApi.as_view(), name="study-export-list"),
    path("exports/<uuid:job_uuid>/resend/", apis.ExportResendApi.as_view(), name="export-resend"),
]
