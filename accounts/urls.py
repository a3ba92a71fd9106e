from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/verify/", views.TwoFactorVerifyView.as_view(), name="two-factor-verify"),
    path("login/<slug:firm_slug>/", views.LoginView.as_view(), name="firm-login"),
    path("settings/two-factor/", views.TwoFactorEnrolView.as_view(), name="two-factor-enrol"),
    path("settings/sessions/<int:pk>/end/", views.session_end, name="session-end"),
    path("settings/sessions/end-others/", views.sessions_end_others, name="sessions-end-others"),
    path("settings/api-tokens/", views.ApiTokensView.as_view(), name="api-tokens"),
    path("settings/users/", views.UsersView.as_view(), name="users"),
    path("settings/security/", views.FirmSecurityView.as_view(), name="firm-security"),
    path("settings/users/<int:pk>/reset-two-factor/", views.user_two_factor_reset, name="user-two-factor-reset"),
    path("invite/<uidb64>/<token>/", views.InviteAcceptView.as_view(), name="invite-accept"),
    path("settings/password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PasswordResetSentView.as_view(), name="password-reset-sent"),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("settings/api-tokens/<int:pk>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("settings/date-format/", views.date_format_set, name="date-format"),
    path("settings/firm-date-format/", views.firm_date_format_set, name="firm-date-format"),
    path("settings/audit/", views.AuditTrailView.as_view(), name="audit"),
    path("settings/audit.csv", views.audit_csv, name="audit-csv"),
]
