"""Backup age for the alerts (deploy/): read from the history table when /metrics is scraped."""

from django.db import DatabaseError
from prometheus_client.core import REGISTRY, GaugeMetricFamily

from config.operations.models import Backup, BackupStatus, Verification


class BackupCollector:
    def describe(self):
        """The names alone, so registering the collector does not query the database."""
        return list(self._families())

    def collect(self):
        succeeded, verified = self._families()
        try:
            last = Backup.objects.filter(status=BackupStatus.SUCCEEDED).first()
            proven = Backup.objects.filter(verification=Verification.PASSED).first()
        except DatabaseError:
            return  # the database's own metrics say it is down; no guess here
        succeeded.add_metric([], last.finished_at.timestamp() if last else 0)
        verified.add_metric([], proven.finished_at.timestamp() if proven else 0)
        yield succeeded
        yield verified

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        succeeded = GaugeMetricFamily(
            "platform_backup_last_success_timestamp_seconds",
            "When the newest successful backup finished (Unix time; 0 if none).",
        )
        verified = GaugeMetricFamily(
            "platform_backup_last_verified_timestamp_seconds",
            "When the newest backup that passed a restore check finished (Unix time; 0 if none).",
        )
        return succeeded, verified


_registered = False


def register() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(BackupCollector())
        _registered = True
