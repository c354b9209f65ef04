from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running the platform: backups and their proof (restore checks, point-in-time recovery),
    and what the database is doing (slow statements, connections, bloat, unused indexes).

    It sits at the top of the dependency order (docs/architecture.md): checking a restored
    backup means knowing the engine's rules, such as "every booking that holds time has its
    occupancy".
    """

    name = "config.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from config.operations import insight, metrics

        metrics.register()
        connection_created.connect(insight.watch_connection, dispatch_uid="slow-statement-log")
