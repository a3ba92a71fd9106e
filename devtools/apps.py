from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Everything that is not the product: the development environment, demo generators,
    ``seed_demo`` and the benchmarks. The product never imports it (an import-linter contract)."""

    name = "devtools"
    verbose_name = "Development tools"
