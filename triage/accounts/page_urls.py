"""Administration page routes (mounted at the site root)."""
from django.urls import path

from triage.accounts import views

urlpatterns = [
    path("administration/", views.AdministrationIndexPage.as_view(), name="admin-index"),
    path("administration/tokens/", views.TokenPage.as_view(), name="admin-tokens"),
    path("administration/hospitals/<uuid:hospital_uuid>/", views.HospitalAdministrationPage.as_view(),
         name="admin-hospital"),
    path("administration/hospitals/<uuid:hospital_uuid>/audit/", views.AuditLogPage.as_view(), name="admin-audit"),
    # The link in an invitation e-mail (triage/accounts/invites.py).
    path("set-password/done/", views.SetPasswordDonePage.as_view(), name="set-password-done"),
    path("set-password/<uidb64>/<token>/", views.SetPasswordPage.as_view(), name="set-password"),
]
