from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("held-away/", views.HeldAwayView.as_view(), name="held-away"),
    path("rmd/", views.RmdView.as_view(), name="rmd"),
]
