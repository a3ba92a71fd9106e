from django.urls import path

from portfolios import views

app_name = "portfolios"
urlpatterns = [
    path("", views.AccountListView.as_view(), name="index"),
    path("<int:pk>/", views.AccountDetailView.as_view(), name="account-detail"),
]
