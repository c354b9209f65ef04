"""Read replicas for real: a private primary, a streaming replica made with `pg_basebackup -R`,
the platform under gunicorn with DATABASE_REPLICA_URLS (config/replicas.py).

The replica's replay is paused to make it stale on purpose: what a client then reads shows
which server answered.
"""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from datetime import date, timedelta

import pytest

from tests.servers import (
    Gunicorn,
    PrivateCluster,
    as_server_user,
    project_command,
    require,
    running,
    server_directory,
)


def world(cluster: PrivateCluster, *arguments: str) -> str:
    """`python <arguments>` against the cluster's booking database (tests.private_world...)."""
    return project_command(cluster.url("booking"), *arguments)


@pytest.fixture(scope="module")
def primary_and_replica():
    require("pg_basebackup")
    primary = PrivateCluster()
    replica = PrivateCluster(server_directory("pg-replica-"))
    try:
        primary.init()
        with running(primary):
            primary.psql("CREATE DATABASE booking")
            world(primary, "manage.py", "migrate", "--noinput")
            world(primary, "-m", "tests.private_world", "world")
            subprocess.run(
                as_server_user([require("pg_basebackup"), "-h", "127.0.0.1",
                                "-p", str(primary.port), "-U", "postgres",
                                "-D", str(replica.data), "-R", "-X", "stream",
                                "--checkpoint=fast"]),
                check=True, capture_output=True,
            )  # fmt: skip
            replica.configure({"port": str(replica.port),
                               "unix_socket_directories": f"'{replica.directory}'"})  # fmt: skip
            with running(replica):
                assert replica.psql("SELECT pg_is_in_recovery()") == "t"
                yield primary, replica
    finally:
        replica.remove()
        primary.remove()


def platform(tmp_path, primary, replica, **settings) -> Gunicorn:
    return Gunicorn(tmp_path, {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": primary.url("booking"),
        "DATABASE_REPLICA_URLS": replica.url("booking"),
        "DATABASE_REPLICA_CHECK_SECONDS": "0.2",
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "CACHE_KEY_PREFIX": f"replicas-{uuid.uuid4().hex[:8]}",
        "CELERY_BROKER_URL": "",
        "API_THROTTLE_ANON": "1000000/min",
        "API_THROTTLE_USER": "1000000/min",
        "API_THROTTLE_BOOKING_CREATE": "1000000/hour",
    } | settings, workers=1)  # fmt: skip


def call(server: Gunicorn, path: str, *, token: str | None = None, body: dict | None = None):
    request = urllib.request.Request(
        server.url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()[:500]


def transactions(cluster: PrivateCluster) -> int:
    """Transactions the server has run in the platform's database (a read is one), as its
    ended sessions reported them."""
    time.sleep(0.5)
    return int(cluster.psql(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'booking'"
    ))  # fmt: skip


def book(server: Gunicorn, token: str, ids: dict, days_ahead: int) -> str:
    starts_at = f"{date.today() + timedelta(days=days_ahead)}T10:00:00+02:00"
    status, body = call(server, "/api/v1/organizations/drill-wash/bookings/", token=token,
                        body={"service": ids["service"], "location": ids["location"],
                              "starts_at": starts_at})  # fmt: skip
    assert status == 201, body
    return body["code"]


def my_codes(server: Gunicorn, token: str) -> set[str]:
    status, body = call(server, "/api/v1/me/bookings/", token=token)
    assert status == 200, body
    return {booking["code"] for booking in body["results"]}


def catalogue_ids(primary: PrivateCluster) -> dict:
    return {
        "service": int(primary.psql("SELECT id FROM bookings_service", database="booking")),
        "location": int(primary.psql("SELECT id FROM accounts_location", database="booking")),
    }


def test_catalogue_reads_go_to_the_replica_while_it_is_healthy(primary_and_replica, tmp_path):
    primary, replica = primary_and_replica
    service = catalogue_ids(primary)["service"]
    before = transactions(replica)
    with running(platform(tmp_path, primary, replica)) as server:
        for _ in range(20):
            # A service's page: the lists come from the process's reference data instead
            # (bookings.reference_cache), behind one primary read of its generation.
            status, body = call(server, f"/api/v1/organizations/drill-wash/services/{service}/")
            assert status == 200 and body["id"] == service
    # A session reports its statistics when it ends: the server's have, now it has stopped.
    assert transactions(replica) - before >= 20


def test_a_client_reads_its_own_booking_at_once_though_the_replica_lags(
    primary_and_replica, tmp_path
):
    primary, replica = primary_and_replica
    ids = catalogue_ids(primary)
    token = world(primary, "-m", "tests.private_world", "customer", f"{uuid.uuid4().hex}@x.test")
    # A replica that counts as healthy however far behind (the lag limit is an hour) ...
    server = platform(tmp_path, primary, replica, DATABASE_REPLICA_MAX_LAG_SECONDS="3600",
                      DATABASE_READ_YOUR_WRITES_SECONDS="3")  # fmt: skip
    with running(server):
        time.sleep(1)  # the customer's token reaches the replica
        replica.psql("SELECT pg_wal_replay_pause()")
        try:
            # ... that has stopped replaying: the booking made now never reaches it.
            code = book(server, token, ids, days_ahead=3)
            # The customer who booked reads it at once: their reads stay on the primary.
            assert code in my_codes(server, token)
            # Once the window has passed, their reads go back to the stale replica.
            time.sleep(3.5)
            assert code not in my_codes(server, token)
        finally:
            replica.psql("SELECT pg_wal_replay_resume()")


def test_a_lagging_replica_is_skipped_for_the_primary(primary_and_replica, tmp_path):
    primary, replica = primary_and_replica
    ids = catalogue_ids(primary)
    token = world(primary, "-m", "tests.private_world", "customer", f"{uuid.uuid4().hex}@x.test")
    server = platform(tmp_path, primary, replica, DATABASE_REPLICA_MAX_LAG_SECONDS="1",
                      DATABASE_READ_YOUR_WRITES_SECONDS="1")  # fmt: skip
    with running(server):
        time.sleep(1)
        replica.psql("SELECT pg_wal_replay_pause()")
        try:
            code = book(server, token, ids, days_ahead=4)
            time.sleep(1.5)  # past read-your-writes: only the lag check keeps this right
            assert code in my_codes(server, token)
            assert "skipped" in server.log()
        finally:
            replica.psql("SELECT pg_wal_replay_resume()")


def test_reads_fall_back_to_the_primary_while_the_replica_is_down(primary_and_replica, tmp_path):
    primary, replica = primary_and_replica
    service_page = f"/api/v1/organizations/drill-wash/services/{catalogue_ids(primary)['service']}/"
    with running(platform(tmp_path, primary, replica)) as server:
        assert call(server, service_page)[0] == 200
        replica.stop()
        try:
            statuses = [call(server, service_page)[0] for _ in range(10)]
            assert statuses == [200] * 10
            assert "reading from the primary" in server.log()
        finally:
            replica.start()


def test_row_security_holds_on_the_replica(primary_and_replica):
    """The policies and the app role are the primary's, replayed: on the standby the scope
    still decides what raw SQL sees (SET is allowed in recovery)."""
    _primary, replica = primary_and_replica
    seen = json.loads(world(replica, "-m", "tests.private_world", "walls"))
    assert {tuple(row) for row in seen["wash"]} == {("booking_app", 1, 1)}
    assert {tuple(row) for row in seen["other"]} == {("booking_app", 0, 0)}
    assert {tuple(row) for row in seen["none"]} == {("booking_app", 0, 0)}
