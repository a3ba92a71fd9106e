from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Fee billing"

    def ready(self) -> None:
        from advisorportal.jobs.kinds import JobKind, register
        from billing import services

        register(JobKind(services.COMPUTE_JOB, run=services.compute, label="Fee run preview"))
        register(JobKind(services.POST_JOB, run=services.post, label="Fee run posting", atomic=False))
        from billing import invoices

        register(JobKind(invoices.INVOICE_JOB, run=invoices.run_job, label="Fee run invoices", atomic=False))
        invoices.register_email_and_link()
        from billing import increases

        increases.register()
        from billing import termination

        termination.connect_signals()
