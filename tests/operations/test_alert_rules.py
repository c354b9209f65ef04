"""The alert rules in deploy/prometheus/alerts.yml: valid for promtool, and each one fires on
series that should page someone and stays quiet on series that should not.

The sample series are promtool's notation: 'a+bxN' starts at a and adds b N times, one value
per minute. Each case is turned into a `promtool test rules` file here, with the rule's own
labels and annotations as the expected alert, so a rule cannot change silently.
"""

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.servers import REPOSITORY, require

RULES = REPOSITORY / "deploy" / "prometheus" / "alerts.yml"
HOUR = 60  # samples, one a minute

REQUESTS = "django_http_responses_total_by_status_view_method_total"
LATENCY = "django_http_requests_latency_seconds_by_view_method_bucket"


def latency(fast_per_minute: int, slow_per_minute: int) -> dict[str, str]:
    """Requests per minute under 250 ms and over 1 s, as histogram buckets."""
    base = f'{LATENCY}{{view="bookings:availability",method="GET",le='
    return {
        f'{base}"0.25"}}': f"0+{fast_per_minute}x{HOUR}",
        f'{base}"1.0"}}': f"0+{fast_per_minute}x{HOUR}",
        f'{base}"+Inf"}}': f"0+{fast_per_minute + slow_per_minute}x{HOUR}",
    }


def requests(ok_per_minute: int, failed_per_minute: int) -> dict[str, str]:
    labels = 'view="bookings:create",method="POST"'
    return {
        f'{REQUESTS}{{status="201",{labels}}}': f"0+{ok_per_minute}x{HOUR}",
        f'{REQUESTS}{{status="503",{labels}}}': f"0+{failed_per_minute}x{HOUR}",
    }


# alert -> (series that must fire it, series that must not, minute to evaluate at)
CASES: dict[str, tuple[dict[str, str], dict[str, str], int]] = {
    "PlatformHighErrorRate": (
        requests(ok_per_minute=600, failed_per_minute=30),  # 4.8 %
        requests(ok_per_minute=600, failed_per_minute=6),  # 1 %
        20,
    ),
    "PlatformSlowRequests": (
        latency(fast_per_minute=90, slow_per_minute=10),  # p95 over 1 s
        latency(fast_per_minute=99, slow_per_minute=1),  # p95 under 250 ms
        20,
    ),
    "PlatformOutboxBacklog": (
        {'platform_outbox_emails{state="pending"}': f"250x{HOUR}"},
        {'platform_outbox_emails{state="pending"}': f"150x{HOUR}"},
        20,
    ),
    "PlatformOutboxStuck": (
        {"platform_outbox_oldest_pending_seconds": f"300+60x{HOUR}"},  # grows: nothing sends
        {"platform_outbox_oldest_pending_seconds": f"30x{HOUR}"},
        20,
    ),
    "PlatformEmailsFailed": (
        {'platform_outbox_emails{state="failed"}': f"3x30 4x{HOUR}"},
        {'platform_outbox_emails{state="failed"}': f"3x{HOUR}"},  # old failures, none new
        40,
    ),
    "PlatformDatabaseConnectionsNearLimit": (
        {
            'platform_database_connections{state="active"}': f"60x{HOUR}",
            'platform_database_connections{state="idle"}': f"25x{HOUR}",
            "platform_database_max_connections": f"100x{HOUR}",
        },
        {
            'platform_database_connections{state="active"}': f"20x{HOUR}",
            'platform_database_connections{state="idle"}': f"25x{HOUR}",
            "platform_database_max_connections": f"100x{HOUR}",
        },
        20,
    ),
    "PlatformReplicaLagging": (
        {'platform_database_replica_lag_seconds{replica="replica1"}': f"45x{HOUR}"},
        {'platform_database_replica_lag_seconds{replica="replica1"}': f"2x{HOUR}"},
        20,
    ),
    "PlatformAnalyticsStale": (
        {'platform_analytics_view_age_seconds{view="daily_bookings"}': f"3000+60x{HOUR}"},
        {'platform_analytics_view_age_seconds{view="daily_bookings"}': f"300x{HOUR}"},
        50,
    ),
    "PlatformBackupTooOld": (
        # promtool's clock starts at 0: a backup verified at 0 is 27 hours old at minute 1620.
        {"platform_backup_last_verified_timestamp_seconds": "0x1700"},
        {"platform_backup_last_verified_timestamp_seconds": "0+3600x30"},  # hourly, say
        1620,
    ),
    "PlatformQueueBacklog": (
        {'platform_celery_queue_length{queue="emails"}': f"800x{HOUR}"},
        {'platform_celery_queue_length{queue="emails"}': f"20x{HOUR}"},
        20,
    ),
}


# Alerts that name what is wrong, beyond the rule's own labels.
NAMED = {
    "PlatformReplicaLagging": {"replica": "replica1"},
    "PlatformQueueBacklog": {"queue": "emails"},
}


def rules() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


@pytest.fixture(scope="module")
def promtool() -> str:
    return require("promtool")


def test_the_rules_are_valid(promtool):
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_every_rule_has_a_case_and_a_runbook():
    assert set(rules()) == set(CASES)
    operations = (REPOSITORY / "docs" / "operations.md").read_text().lower()
    for name, rule in rules().items():
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{name.lower()}"
        assert f"### {name.lower()}" in operations, f"docs/operations.md explains {name}"


@pytest.mark.parametrize("alert", sorted(CASES))
def test_the_rule_fires_when_it_should_and_only_then(alert, promtool, tmp_path: Path):
    firing, quiet, minute = CASES[alert]
    rule = rules()[alert]
    expected = {
        "exp_labels": rule.get("labels", {}) | NAMED.get(alert, {}),
        "exp_annotations": rule["annotations"],
    }

    def case(series: dict[str, str], exp_alerts: list) -> dict:
        return {
            "interval": "1m",
            "input_series": [{"series": name, "values": values} for name, values in series.items()],
            "alert_rule_test": [
                {"eval_time": f"{minute}m", "alertname": alert, "exp_alerts": exp_alerts}
            ],
        }

    tests = tmp_path / "alerts_test.yml"
    tests.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(RULES)],
                "evaluation_interval": "1m",
                "tests": [case(firing, [expected]), case(quiet, [])],
            }
        )
    )
    done = subprocess.run([promtool, "test", "rules", str(tests)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
