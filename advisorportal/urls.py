from django.conf import settings
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from accounts.views import brand_css
from advisorportal.shell import people
from advisorportal.shell.message_centre import MessageCentreView, NotificationOpenView
from advisorportal.shell.views import DashboardPanelsView, DashboardPanelView, DashboardView, PendingItemsView, health


class SchemaView(SpectacularAPIView):
    public_reason = "The API description is public documentation; it contains no firm data."


class SwaggerView(SpectacularSwaggerSplitView):
    public_reason = "Interactive API documentation; calls it makes are authenticated as usual."


class RedocView(SpectacularRedocView):
    public_reason = "Readable API documentation; it contains no firm data."


urlpatterns = [
    path("", DashboardView.as_view(), name="dashboard"),
    path("dashboard/panels/", DashboardPanelsView.as_view(), name="dashboard-panels"),
    path("dashboard/panels/<slug:key>/", DashboardPanelView.as_view(), name="dashboard-panel"),
    path("pending/", PendingItemsView.as_view(), name="pending-items"),
    path("messages/", MessageCentreView.as_view(), name="message-centre"),
    path("messages/<int:pk>/open/", NotificationOpenView.as_view(), name="notification-open"),
    path("health", health, name="health"),
    path("brand/<slug:slug>.css", brand_css, name="brand-css"),
    path("", include("accounts.urls")),
    path(
        "settings/users/",
        include(
            (
                [
                    path("<int:pk>/", people.UserEditView.as_view(), name="user-edit"),
                    path("<int:pk>/preview/", people.UserPreviewView.as_view(), name="user-preview"),
                ],
                "people",
            )
        ),
    ),
    path("contacts/", include("crm.documents.urls")),  # before crm: /contacts/documents/, /contacts/<pk>/documents/…
    path("contacts/", include("crm.merge.urls")),  # before crm: /contacts/merge/…
    path("contacts/", include("crm.contact_io.urls")),  # before crm: /contacts/import/, /contacts/export/…
    path("", include("crm.agenda.calendar.urls")),  # /calendar/… and /contacts/<pk>/events/
    path("", include("crm.agenda.urls")),  # /agenda/… and /contacts/<pk>/agenda/
    path("contacts/", include("crm.urls")),
    path("accounts/", include("portfolios.urls")),
    path("funding/", include("funding.urls")),
    path("onboarding/", include("onboarding.urls")),
    path("billing/", include("billing.urls")),
    path("reports/planning/", include("reports.planning.urls")),  # before reports: /reports/planning/…
    path("reports/", include("reports.urls")),
    path("imports/", include("portfolios.custodian.urls")),
    path("approve/", include("advisorportal.links.urls")),  # client approval links (no sign-in)
    path("mail/", include("advisorportal.mail.urls")),  # /mail/unsubscribe/<token>/ (no sign-in)
    # Delivery reports of an email service provider (HTTP basic auth: ANYMAIL_WEBHOOK_SECRET).
    path("mail/anymail/", include("advisorportal.mail.webhook_urls")),
    path("api/v1/", include(("advisorportal.api_urls", "api"), namespace="api")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

if not settings.PRODUCTION:  # the development outbox (docs/email.md): emails written to var/mail, never in production
    urlpatterns.append(path("dev/outbox/", include("advisorportal.mail.outbox_urls")))

# A Redis or broker outage answers "try again" (503) instead of the 500 page.
handler500 = "advisorportal.unavailable.server_error"
# Under /api/ the API's error shape, elsewhere the pages.
handler400 = "advisorportal.tenancy.errors.bad_request"
handler403 = "advisorportal.tenancy.errors.permission_denied"
handler404 = "advisorportal.tenancy.errors.page_not_found"
