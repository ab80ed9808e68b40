from django.apps import AppConfig


class EvaluationsConfig(AppConfig):
    name = "evaluations"
    verbose_name = "Evaluations"

    def ready(self) -> None:
        from django.db.models import IntegerField

        from . import current  # noqa: F401  (connects the signals that keep the read model current)
        from .lookups import IntegerFieldIn

        IntegerField.register_lookup(IntegerFieldIn)
