from django.apps import AppConfig


class StatementsConfig(AppConfig):
    name = "reports.statements"
    label = "statements"
    verbose_name = "Statements and report definitions"

    def ready(self) -> None:
        from advisorportal.jobs.kinds import JobKind, register
        from reports.statements import delivery, services

        register(JobKind(services.MAKE_JOB, run=services.make_job, label="Statement"))
        register(JobKind(delivery.RUN_JOB, run=delivery.run_job, label="Statement run", atomic=False,
                         summary=delivery.run_summary))  # fmt: skip
        register(JobKind(delivery.PART_JOB, run=delivery.part_job, label="Part of a statement run", atomic=False))
        delivery.register_email_and_link()
