from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("fee-calculator/", views.FeeCalculatorView.as_view(), name="fee-calculator"),
]
