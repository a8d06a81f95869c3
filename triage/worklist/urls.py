"""API routes (mounted under /api/)."""
from django.urls import path

from triage.worklist import apis

urlpatterns = [
    path("worklist/", apis.WorklistListApi.as_view(), name="worklist-list"),
    path("worklist/version/", apis.WorklistVersionApi.as_view(), name="worklist-version"),
    path("studies/<uuid:study_uuid>/slices/<int:index>.png", apis.StudySliceApi.as_view(), name="study-slice"),
    path("studies/<uuid:study_uuid>/slices/<int:index>.i16", apis.StudySliceRawApi.as_view(), name="study-slice-raw"),
    path("studies/<uuid:study_uuid>/overlays/<int:index>/<str:kind>.png", apis.StudyOverlayApi.as_view(),
         name="study-overlay"),
]
