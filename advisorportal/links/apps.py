from django.apps import AppConfig


class LinksConfig(AppConfig):
    name = "advisorportal.links"
    label = "links"
    verbose_name = "Emailed links"
