from django.urls import path

from funding import views

app_name = "funding"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
]
