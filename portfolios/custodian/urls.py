from django.urls import path

from portfolios.custodian import views

app_name = "imports"
urlpatterns = [
    path("", views.ImportListView.as_view(), name="index"),
    path("<int:pk>/", views.ImportDetailView.as_view(), name="job-detail"),
    path("<int:pk>/cancel/", views.ImportCancelView.as_view(), name="job-cancel"),
    path("<int:pk>/retry/", views.ImportRetryView.as_view(), name="job-retry"),
    path("<int:pk>/report.csv", views.ImportReportView.as_view(), name="job-report"),
    path("templates/<slug:kind>.csv", views.ImportTemplateView.as_view(), name="template"),
]
