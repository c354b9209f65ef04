"""Figures read from PostgreSQL when /metrics is scraped: backup age, connections, replica lag.

They are gauges of the database's state, the same for every process, so they are collected at
scrape time rather than counted (the alert rules in deploy/prometheus/ read them).
"""

from django.db import DatabaseError, connection
from prometheus_client.core import REGISTRY, GaugeMetricFamily

from config.operations.models import Backup, BackupStatus, Verification


class DatabaseStateCollector:
    def describe(self):
        """The names alone, so registering the collector does not query the database."""
        return list(self._families().values())

    def collect(self):
        families = self._families()
        try:
            last = Backup.objects.filter(status=BackupStatus.SUCCEEDED).first()
            proven = Backup.objects.filter(verification=Verification.PASSED).first()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT coalesce(state, 'background'), count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() GROUP BY 1"
                )
                states = cursor.fetchall()
                cursor.execute("SELECT current_setting('max_connections')::int")
                (max_connections,) = cursor.fetchone()
                # The primary knows each streaming replica's replay lag (none: no rows).
                cursor.execute(
                    "SELECT application_name, coalesce(extract(epoch FROM replay_lag), 0)"
                    " FROM pg_stat_replication"
                )
                replicas = cursor.fetchall()
        except DatabaseError:
            return  # the health check and the request errors say the database is down
        families["success"].add_metric([], last.finished_at.timestamp() if last else 0)
        families["verified"].add_metric([], proven.finished_at.timestamp() if proven else 0)
        for state, count in states:
            families["connections"].add_metric([state], count)
        families["max_connections"].add_metric([], max_connections)
        for name, lag in replicas:
            families["replica_lag"].add_metric([name], float(lag))
        yield from families.values()

    @staticmethod
    def _families() -> dict[str, GaugeMetricFamily]:
        return {
            "success": GaugeMetricFamily(
                "platform_backup_last_success_timestamp_seconds",
                "When the newest successful backup finished (Unix time; 0 if none).",
            ),
            "verified": GaugeMetricFamily(
                "platform_backup_last_verified_timestamp_seconds",
                "When the newest backup that passed a restore check finished (0 if none).",
            ),
            "connections": GaugeMetricFamily(
                "platform_database_connections",
                "Connections to the platform's database, by state.",
                labels=["state"],
            ),
            "max_connections": GaugeMetricFamily(
                "platform_database_max_connections", "The server's max_connections."
            ),
            "replica_lag": GaugeMetricFamily(
                "platform_database_replica_lag_seconds",
                "How far each streaming replica's replay is behind the primary.",
                labels=["replica"],
            ),
        }


_registered = False


def register() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(DatabaseStateCollector())
        _registered = True
