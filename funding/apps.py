from django.apps import AppConfig


class FundingConfig(AppConfig):
    name = "funding"
    verbose_name = "Funding"

    def ready(self) -> None:
        from advisorportal.links import purposes
        from advisorportal.mail import templates
        from funding import approvals

        templates.register(
            "funding.approval_request",
            label="Funding: approval request",
            subject="Please review: {{ request.title }}",
            html="funding/email/approval_request.html",
            text="funding/email/approval_request.txt",
        )
        templates.register(
            "funding.approval_reminder",
            label="Funding: approval reminder",
            subject="Reminder, please review: {{ request.title }}",
            html="funding/email/approval_reminder.html",
            text="funding/email/approval_reminder.txt",
        )
        purposes.register(approvals.PURPOSE)

        from funding.tasks import queue_match
        from portfolios.custodian import hooks

        hooks.on_transactions_stored(queue_match)
