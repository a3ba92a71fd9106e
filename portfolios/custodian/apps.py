from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "portfolios.custodian"
    label = "imports"  # kept from when it was a top-level app: migrations stay put
    verbose_name = "Custodian imports"
