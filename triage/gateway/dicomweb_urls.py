"""DICOMweb routes (PS3.18 paths, no trailing slash), mounted at /dicomweb/.

``/studies`` and ``/studies/{study}`` take POST (STOW-RS) and GET (QIDO-RS, WADO-RS).
"""
from django.urls import path

from triage.gateway import apis

STUDY = "studies/<str:study_instance_uid>"
SERIES = f"{STUDY}/series/<str:series_instance_uid>"
INSTANCE = f"{SERIES}/instances/<str:sop_instance_uid>"

retrieve = apis.InstancesRetrieveApi.as_view()
metadata = apis.MetadataRetrieveApi.as_view()
rendered = apis.RenderedRetrieveApi.as_view()
search_series = apis.SeriesSearchApi.as_view()
search_instances = apis.InstanceSearchApi.as_view()

urlpatterns = [
    path("studies", apis.by_method(GET=apis.StudySearchApi.as_view(), POST=apis.StudyStoreApi.as_view()),
         name="dicomweb-qido-studies"),
    path("series", search_series, name="dicomweb-qido-series"),
    path("instances", search_instances, name="dicomweb-qido-instances"),
    path(STUDY, apis.by_method(GET=retrieve, POST=apis.StudyInstancesStoreApi.as_view()), name="dicomweb-study"),
    path(f"{STUDY}/metadata", metadata, name="dicomweb-study-metadata"),
    path(f"{STUDY}/series", search_series, name="dicomweb-study-series"),
    path(f"{STUDY}/instances", search_instances, name="dicomweb-study-instances"),
    path(SERIES, retrieve, name="dicomweb-series"),
    path(f"{SERIES}/metadata", metadata, name="dicomweb-series-metadata"),
    path(f"{SERIES}/instances", search_instances, name="dicomweb-series-instances"),
    path(INSTANCE, retrieve, name="dicomweb-instance"),
    path(f"{INSTANCE}/metadata", metadata, name="dicomweb-instance-metadata"),
    path(f"{INSTANCE}/rendered", rendered, name="dicomweb-instance-rendered"),
    path(f"{INSTANCE}/frames/<str:frames>", apis.FramesRetrieveApi.as_view(), name="dicomweb-frames"),
    path(f"{INSTANCE}/frames/<str:frames>/rendered", rendered, name="dicomweb-frames-rendered"),
]
