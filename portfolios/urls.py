from django.urls import path

from portfolios import views

app_name = "portfolios"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
]
