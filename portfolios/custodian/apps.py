from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "portfolios.custodian"
    label = "imports"  # kept from when it was a top-level app: migrations stay put
    verbose_name = "Custodian imports"

    def ready(self) -> None:
        from advisorportal.jobs.kinds import JobKind, register
        from portfolios.custodian import services

        register(JobKind(services.IMPORT_JOB, run=services.run_import, label="Custodian import"))
