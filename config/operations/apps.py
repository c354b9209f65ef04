from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running the platform: health, metrics and request ids; backups and their proof (restore
    checks, point-in-time recovery); what the database is doing (slow statements, bloat).

    It sits at the top of the dependency order (docs/architecture.md): its collectors read
    every app's tables, and checking a restored backup means knowing the engine's rules, such
    as "every booking that holds time has its occupancy".
    """

    name = "config.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Signal receivers, connected here so web processes and workers alike have them: the
        # request id into Celery tasks, task outcomes and query timings (and the slow-statement
        # log) into metrics.
        from config import partitioning  # noqa: F401 - registers the retention floor's check
        from config.operations import metrics, request_id

        request_id.connect_request_signals()
        request_id.connect_celery_signals()
        metrics.connect_signals()
