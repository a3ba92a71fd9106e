from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "advisorportal.idempotency"
    label = "idempotency"
    verbose_name = "Idempotency keys"
