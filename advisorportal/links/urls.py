from django.urls import path

from advisorportal.links import views

app_name = "links"
urlpatterns = [
    path("brand/<int:firm_id>.css", views.brand_css, name="brand-css"),
    path("<str:token>/", views.approve_view, name="approve"),
    path("<str:token>/code/", views.code_view, name="code"),
    path("<str:token>/decide/", views.decide_view, name="decide"),
]
