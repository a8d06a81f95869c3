"""DICOMweb routes (PS3.18 paths, no trailing slash), mounted at /dicomweb/."""
from django.urls import path

from triage.gateway import apis

urlpatterns = [
    path("studies", apis.StudyStoreApi.as_view(), name="dicomweb-stow"),
    path("studies/<str:study_instance_uid>", apis.StudyInstancesStoreApi.as_view(), name="dicomweb-stow-study"),
]
