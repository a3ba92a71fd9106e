from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("held-away/", views.HeldAwayView.as_view(), name="held-away"),
    path("rmd/", views.RmdView.as_view(), name="rmd"),
    path("performance/account/<int:pk>/", views.AccountPerformanceView.as_view(), name="performance-account"),
    path("performance/household/<int:pk>/", views.HouseholdPerformanceView.as_view(), name="performance-household"),
]
