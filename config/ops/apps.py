from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "config.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Signal receivers: the request id into Celery tasks, task outcomes and query timings
        # into metrics. Connected here so web processes and workers alike have them.
        from config.ops import metrics, request_id

        request_id.connect_request_signals()
        request_id.connect_celery_signals()
        metrics.connect_signals()
