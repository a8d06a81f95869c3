from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from triage.core.apis import HealthApi, HealthLiveApi, HealthReadyApi
from triage.web import shadow_page
from triage.web import views as web_views
from triage.web.report_page import StudyReportPage

api_patterns = [
    path("health/", HealthApi.as_view(), name="health"),
    path("health/ready/", HealthReadyApi.as_view(), name="health-ready"),
    path("health/live/", HealthLiveApi.as_view(), name="health-live"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("triage.accounts.urls")),
    path("", include("triage.pipeline.urls")),  # upload, reprocess, model activation
    path("models/", include("triage.results.urls")),
    path("studies/", include("triage.studies.urls")),
    path("", include("triage.reports.urls")),
    path("", include("triage.decisions.urls")),
    path("", include("triage.worklist.urls")),
    path("", include("triage.gateway.urls")),
    path("", include("triage.exports.urls")),
    path("", include("triage.monitoring.urls")),
]

urlpatterns = [
    path("", web_views.home, name="home"),
    path("hospital/", web_views.switch_hospital, name="switch-hospital"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include(api_patterns)),
    path("dicomweb/", include("triage.gateway.dicomweb_urls")),
    path("studies/", include("triage.studies.page_urls")),
    path("studies/<uuid:study_uuid>/report/", StudyReportPage.as_view(), name="study-report"),
    path("", include("triage.decisions.page_urls")),
    path("", include("triage.worklist.page_urls")),
    path("monitoring/shadow/", shadow_page.ShadowIndexPage.as_view(), name="shadow-index"),
    path("monitoring/shadow/mark/", shadow_page.ShadowMarkPage.as_view(), name="shadow-mark"),
    path("monitoring/shadow/<uuid:candidate_uuid>/", shadow_page.ShadowCandidatePage.as_view(), name="shadow-candidate"),
    path("monitoring/shadow/<uuid:candidate_uuid>/end/", shadow_page.ShadowEndPage.as_view(), name="shadow-end"),
    path("monitoring/shadow/<uuid:candidate_uuid>/promote/", shadow_page.ShadowPromotePage.as_view(),
         name="shadow-promote"),
    path("", include("triage.monitoring.page_urls")),
    path("", include("triage.accounts.page_urls")),
    path("", include("triage.gateway.page_urls")),
    path("", include("triage.exports.page_urls")),
]
