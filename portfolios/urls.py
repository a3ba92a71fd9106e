from django.urls import path

from portfolios import views

app_name = "portfolios"
urlpatterns = [
    path("", views.AccountListView.as_view(), name="index"),
    path("<int:pk>/", views.AccountDetailView.as_view(), name="account-detail"),
    path("<int:pk>/close/", views.account_close, name="account-close"),
    path("<int:pk>/holds/", views.hold_place, name="hold-place"),
    path("<int:pk>/holds/<int:hold_pk>/release/", views.hold_release, name="hold-release"),
]
