from django.urls import path

from triage.gateway import apis

urlpatterns = [
    path("hospitals/<uuid:hospital_uuid>/dicom-nodes/", apis.DicomNodeListApi.as_view(), name="dicom-node-list"),
    path("hospitals/<uuid:hospital_uuid>/dicom-nodes/<uuid:node_uuid>/", apis.DicomNodeDeactivateApi.as_view(),
         name="dicom-node-deactivate"),
    path("hospitals/<uuid:hospital_uuid>/dicom-nodes/<uuid:node_uuid>/echo/", apis.DicomNodeEchoApi.as_view(),
         name="dicom-node-echo"),
]
