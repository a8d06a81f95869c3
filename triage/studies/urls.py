from django.urls import path

from triage.studies import apis

urlpatterns = [
    path("<uuid:study_uuid>/", apis.StudyDetailApi.as_view(), name="study-detail"),
]
