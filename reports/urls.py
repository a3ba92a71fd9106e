from django.urls import include, path

from reports import views

app_name = "reports"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("held-away/", views.HeldAwayView.as_view(), name="held-away"),
    path("rmd/", views.RmdView.as_view(), name="rmd"),
    path("performance/account/<int:pk>/", views.AccountPerformanceView.as_view(), name="performance-account"),
    path("performance/household/<int:pk>/", views.HouseholdPerformanceView.as_view(), name="performance-household"),
    path("performance/group/<int:pk>/", views.GroupPerformanceView.as_view(), name="performance-group"),
    path("performance/firm/", views.FirmPerformanceView.as_view(), name="performance-firm"),
    path("benchmarks/", views.BlendListView.as_view(), name="blends"),
    path("benchmarks/<int:pk>/", views.BlendDetailView.as_view(), name="blend"),
    path("queries/", views.QueriesIndexView.as_view(), name="queries"),
    path("queries/performance/", views.PerformanceQueryView.as_view(), name="query-performance"),
    path("queries/symbol/", views.SymbolQueryView.as_view(), name="query-symbol"),
    path("queries/activity/", views.ActivityQueryView.as_view(), name="query-activity"),
    path("queries/rmd/", views.RmdQueryView.as_view(), name="query-rmd"),
    path("queries/accounts/", views.AccountQueryView.as_view(), name="query-accounts"),
    path("statements/", include("reports.statements.urls")),  # statements and report definitions
]
