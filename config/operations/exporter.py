"""`/metrics`: everything counted (config/operations/metrics.py, the apps' metrics.py,
django-prometheus) and the figures read at scrape time from the database and the broker.

Not public in production: a scraper must come from METRICS_ALLOWED_IPS (networks, CIDR) or send
`Authorization: Bearer <METRICS_BEARER_TOKEN>`. The address is REMOTE_ADDR, never a forwarded
header a client could write; behind a proxy, use the token or the proxy's network.
"""

import ipaddress
import logging
import os
from datetime import datetime

import prometheus_client
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from kombu import Connection
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily

from config.row_security import platform_wide

logger = logging.getLogger(__name__)

# Scrape-time reads must never hold a scrape (or a connection) for long.
SCRAPE_STATEMENT_TIMEOUT_MS = 2000


class ScrapeCollector:
    """A collector reading its figures when scraped; a failure shows as collector_up 0."""

    name = ""

    def read(self) -> list:
        raise NotImplementedError

    def collect(self):
        up = GaugeMetricFamily(
            "booking_metrics_collector_up",
            "1 if the scrape-time collector read its source, 0 if the source failed.",
            labels=["collector"],
        )
        try:
            # Every figure counts every tenant (the outbox backlog, say): the scrape is
            # platform-wide on purpose.
            with platform_wide(f"metrics scrape: {self.name}"):
                families = self.read()
        except Exception as error:
            logger.warning("metrics collector %s failed: %r", self.name, error)
            families, ok = [], 0
        else:
            ok = 1
        up.add_metric([self.name], ok)
        yield up
        yield from families


def _rows(sql: str) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL statement_timeout = {SCRAPE_STATEMENT_TIMEOUT_MS}")
        cursor.execute(sql)
        return cursor.fetchall()


def _seconds_since(moment: datetime | None) -> float:
    """Age on the application's clock (the one that wrote the rows); 0 for nothing."""
    return 0.0 if moment is None else max(0.0, (timezone.now() - moment).total_seconds())


class OutboxCollector(ScrapeCollector):
    name = "outbox"
    OUTBOXES = (("bookings", "OutboxEmail"), ("accounts", "AccountEmail"))

    def read(self) -> list:
        emails = GaugeMetricFamily(
            "booking_outbox_emails",
            "Outbox emails waiting (pending) or given up (failed), by outbox.",
            labels=["outbox", "status"],
        )
        age = GaugeMetricFamily(
            "booking_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending email of each outbox (0 when none waits).",
            labels=["outbox"],
        )
        for app_label, model_name in self.OUTBOXES:
            table = apps.get_model(app_label, model_name)._meta.db_table
            ((pending, failed, oldest),) = _rows(
                f"SELECT count(*) FILTER (WHERE status = 'pending'),"
                f" count(*) FILTER (WHERE status = 'failed'),"
                f" min(created_at) FILTER (WHERE status = 'pending')"
                f" FROM {connection.ops.quote_name(table)} WHERE status IN ('pending', 'failed')"
            )
            label = model_name.lower()
            emails.add_metric([label, "pending"], pending)
            emails.add_metric([label, "failed"], failed)
            age.add_metric([label], _seconds_since(oldest))
        return [emails, age]


class DatabaseCollector(ScrapeCollector):
    name = "database"

    def read(self) -> list:
        states = GaugeMetricFamily(
            "booking_db_server_connections",
            "Connections to this database by state (pg_stat_activity), all clients.",
            labels=["state"],
        )
        for state, count in _rows(
            "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() GROUP BY 1"
        ):
            states.add_metric([state], count)
        ((limit,),) = _rows("SELECT current_setting('max_connections')::int")
        maximum = GaugeMetricFamily(
            "booking_db_server_max_connections", "The server's max_connections.", value=limit
        )
        return [states, maximum]


class AnalyticsCollector(ScrapeCollector):
    name = "analytics"

    def read(self) -> list:
        age = GaugeMetricFamily(
            "booking_analytics_view_age_seconds",
            "Time since each materialized view's last successful refresh (as_of).",
            labels=["view"],
        )
        took = GaugeMetricFamily(
            "booking_analytics_view_refresh_duration_seconds",
            "How long each view's last refresh took.",
            labels=["view"],
        )
        table = apps.get_model("analytics", "ViewRefresh")._meta.db_table
        for view, as_of, duration in _rows(
            f"SELECT view, as_of, duration FROM {connection.ops.quote_name(table)}"
        ):
            age.add_metric([view], _seconds_since(as_of))
            took.add_metric([view], duration.total_seconds())
        return [age, took]


class BackupCollector(ScrapeCollector):
    """When the newest backup finished and when the newest one proven by a restore did."""

    name = "backups"

    def read(self) -> list:
        from config.operations.models import Backup, BackupStatus, Verification

        succeeded = GaugeMetricFamily(
            "booking_backup_last_success_timestamp_seconds",
            "When the newest successful backup finished (Unix time; 0 if none).",
        )
        verified = GaugeMetricFamily(
            "booking_backup_last_verified_timestamp_seconds",
            "When the newest backup that passed a restore check finished (0 if none).",
        )
        last = Backup.objects.filter(status=BackupStatus.SUCCEEDED).first()
        proven = Backup.objects.filter(verification=Verification.PASSED).first()
        succeeded.add_metric([], last.finished_at.timestamp() if last else 0)
        verified.add_metric([], proven.finished_at.timestamp() if proven else 0)
        return [succeeded, verified]


class ReplicationCollector(ScrapeCollector):
    """Each streaming replica's replay lag, as the primary sees it (no replica: no samples)."""

    name = "replication"

    def read(self) -> list:
        lag = GaugeMetricFamily(
            "booking_db_replica_lag_seconds",
            "How far each streaming replica's replay is behind the primary.",
            labels=["replica"],
        )
        for replica, seconds in _rows(
            "SELECT application_name, coalesce(extract(epoch FROM replay_lag), 0)"
            " FROM pg_stat_replication"
        ):
            lag.add_metric([replica], float(seconds))
        return [lag]


def celery_queue_names() -> list[str]:
    from config.celery import app

    names = set(app.amqp.queues.keys()) | {app.conf.task_default_queue}
    return sorted(names)


class CeleryQueueCollector(ScrapeCollector):
    name = "celery_queues"

    def read(self) -> list:
        depth = GaugeMetricFamily(
            "booking_celery_queue_depth",
            "Messages waiting in each Celery queue of the broker (not yet taken by a worker).",
            labels=["queue"],
        )
        if not broker_configured():
            return [depth]  # tasks run in the request (eager): no queue to count
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=1) as broker:
            broker.ensure_connection(max_retries=0, timeout=1)
            for queue in celery_queue_names():
                channel = broker.channel()
                try:
                    declared = channel.queue_declare(queue=queue, passive=True)
                except broker.channel_errors:
                    continue  # not declared yet: no worker has consumed it, nothing was sent
                finally:
                    channel.close()
                depth.add_metric([queue], declared.message_count)
        return [depth]


def broker_configured() -> bool:
    return settings.CELERY_BROKER_URL not in (None, "", "memory://")


class _ProcessRegistry:
    """This process's own registry, as one collector of the scrape's registry."""

    def collect(self):
        return prometheus_client.REGISTRY.collect()


def registry() -> CollectorRegistry:
    """This scrape's registry: the counters of every process (multiprocess files, under
    gunicorn) or of this one, and the scrape-time collectors."""
    scrape = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(scrape)
    else:
        scrape.register(_ProcessRegistry())
    for collector in (
        OutboxCollector(),
        DatabaseCollector(),
        ReplicationCollector(),
        CeleryQueueCollector(),
        AnalyticsCollector(),
        BackupCollector(),
    ):
        scrape.register(collector)
    return scrape


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_BEARER_TOKEN
    if token and constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    # The settings checked each entry at start-up (config/settings/base.py).
    networks = [ipaddress.ip_network(cidr, strict=False) for cidr in settings.METRICS_ALLOWED_IPS]
    return any(address in network for network in networks)


def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return JsonResponse(
            {
                "error": {
                    "code": "forbidden",
                    "message": "Metrics are for the monitoring system: come from "
                    "METRICS_ALLOWED_IPS or send the METRICS_BEARER_TOKEN.",
                    "details": {},
                }
            },
            status=403,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body = prometheus_client.generate_latest(registry())
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
