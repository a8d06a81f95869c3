from django.urls import path

from triage.studies import apis

urlpatterns = [
    path("", apis.StudyListApi.as_view(), name="study-list"),
    path("<uuid:study_uuid>/", apis.StudyDetailApi.as_view(), name="study-detail"),
    path("<uuid:study_uuid>/reprocess/", apis.StudyReprocessApi.as_view(), name="study-reprocess"),
]
