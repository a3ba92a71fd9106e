from django.urls import path

from advisorportal.mail import views

app_name = "mail"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe_view, name="unsubscribe"),
]
