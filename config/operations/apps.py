from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running the platform: backups and their proof (restore checks, point-in-time recovery).

    It sits at the top of the dependency order (docs/architecture.md): checking a restored
    backup means knowing the engine's rules, such as "every booking that holds time has its
    occupancy".
    """

    name = "config.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from config.operations import metrics

        metrics.register()
