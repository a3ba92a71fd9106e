from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "reports.planning"
    label = "planning"
    verbose_name = "Planning tools"
