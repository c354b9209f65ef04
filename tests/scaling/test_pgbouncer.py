"""The platform behind PgBouncer in transaction mode (DATABASE_POOLED=true): Debian's pgbouncer
in front of a private cluster, gunicorn through it, customers racing for the same slots.

Transaction pooling hands each transaction whichever server connection is free, so nothing may
rely on session state: the timeouts come from the role (ALTER ROLE), advisory locks are
transaction-scoped, no server-side cursors, no prepared statements.
"""

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from datetime import date, timedelta

import pytest

from tests.scaling.test_replicas import world
from tests.servers import REPOSITORY, Gunicorn, PrivateCluster, PrivatePgBouncer, require, running

CLIENTS = 16
SLOTS = 6  # each wanted by every client; the wash has two bays
POOL_SIZE = 2


@pytest.fixture(scope="module")
def pooled_database():
    cluster = PrivateCluster()
    try:
        cluster.init()
        with running(cluster):
            cluster.psql("CREATE DATABASE booking")
            # What a pooler cannot carry as connection options lives on the role.
            for setting in ("statement_timeout = '10s'", "lock_timeout = '3s'", "jit = off"):
                cluster.psql(f"ALTER ROLE postgres SET {setting}")
            world(cluster, "manage.py", "migrate", "--noinput")  # directly, not through it
            world(cluster, "-m", "tests.private_world", "world")
            bouncer = PrivatePgBouncer(cluster, "booking", pool_size=POOL_SIZE)
            try:
                with running(bouncer):
                    yield cluster, bouncer
            finally:
                bouncer.remove()
    finally:
        cluster.remove()


def request(url: str, token: str, body: dict | None = None) -> tuple[int, dict | str]:
    call = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                 "Idempotency-Key": uuid.uuid4().hex},
        method="GET" if body is None else "POST",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(call, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()[:300]


def test_customers_racing_through_pgbouncer_book_each_bay_once(pooled_database, tmp_path):
    cluster, bouncer = pooled_database
    emails = [f"racer{n}-{uuid.uuid4().hex[:6]}@x.test" for n in range(CLIENTS)]
    tokens = world(cluster, "-m", "tests.private_world", "customer", *emails).split()
    service = int(cluster.psql("SELECT id FROM bookings_service", database="booking"))
    location = int(cluster.psql("SELECT id FROM accounts_location", database="booking"))
    server = Gunicorn(tmp_path, {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": bouncer.url(),
        "DATABASE_POOLED": "true",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "API_THROTTLE_USER": "1000000/min",
        "API_THROTTLE_BOOKING_CREATE": "1000000/hour",
    }, workers=4)  # fmt: skip
    api = "/api/v1/organizations/drill-wash"
    day = date.today() + timedelta(days=3)
    slots = [f"{day + timedelta(days=n // 8)}T{9 + n % 8:02d}:00:00+02:00" for n in range(SLOTS)]
    statuses: list[int] = []
    answers: list[tuple] = []
    lock = threading.Lock()

    def customer(token: str) -> None:
        for starts_at in slots:
            booked = request(
                f"{server.url}{api}/bookings/",
                token,
                {"service": service, "location": location, "starts_at": starts_at},
            )
            week = request(
                f"{server.url}{api}/services/{service}/availability/"
                f"?location={location}&date_from={day}&date_to={day}",
                token,
            )
            with lock:
                statuses.extend([booked[0], week[0]])
                answers.extend([booked, week])

    with running(server):
        threads = [threading.Thread(target=customer, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        server_connections = bouncer.show("POOLS")

    assert not any(thread.is_alive() for thread in threads)
    assert len(statuses) == CLIENTS * SLOTS * 2
    assert set(statuses) <= {200, 201, 409}, [a for a in answers if a[0] not in (200, 201, 409)]
    assert statuses.count(201) == SLOTS * 2  # both bays of every slot, each once
    sql = "SELECT count(*) FROM bookings_booking b"
    assert cluster.psql(
        f"{sql} JOIN bookings_occupancy a ON a.booking_id = b.id JOIN bookings_occupancy c"
        " ON c.resource_id = a.resource_id AND c.id > a.id"
        " AND c.starts_at < a.ends_at AND a.starts_at < c.ends_at", database="booking"
    ) == "0"  # fmt: skip
    assert (
        cluster.psql(
            f"{sql} WHERE NOT EXISTS"
            " (SELECT 1 FROM bookings_bookingevent e WHERE e.booking_id = b.id)",
            database="booking",
        )
        == "0"
    )
    # The pooler did pool: never more server connections than its pool, for 4 gunicorn workers.
    pool = next(row for row in server_connections if row["database"] == "booking")
    assert int(pool["sv_active"]) + int(pool["sv_idle"]) + int(pool["sv_used"]) <= POOL_SIZE
    assert "prepared statement" not in bouncer.log() + cluster.log()
    assert "deadlock detected" not in cluster.log()


def test_the_timeouts_reach_every_pooled_connection_from_the_role(pooled_database):
    _cluster, bouncer = pooled_database
    for _ in range(3):  # whichever server connection the pooler picks
        assert through(bouncer, "SHOW statement_timeout") == "10s"
        assert through(bouncer, "SHOW lock_timeout") == "3s"


def test_row_security_scopes_travel_with_each_pooled_transaction(pooled_database):
    """Through the pooler (two server connections for many transactions) each transaction
    carries its own scope and leaves nothing behind: the wash's rows in its scope, none in
    another's or in none, as the app role every time; a plain session afterwards is the owner."""
    _cluster, bouncer = pooled_database
    seen = json.loads(pooled_world(bouncer, "walls"))
    assert {tuple(row) for row in seen["wash"]} == {("booking_app", 1, 1)}
    assert {tuple(row) for row in seen["other"]} == {("booking_app", 0, 0)}
    assert {tuple(row) for row in seen["none"]} == {("booking_app", 0, 0)}
    for _ in range(3):
        left = "coalesce(current_setting('app.organization_ids', true), '')"
        assert through(bouncer, f"SELECT current_user, {left}") == "postgres|"


def pooled_world(bouncer: PrivatePgBouncer, *arguments: str) -> str:
    """tests/private_world.py run by a Django process connected through the pooler."""
    env = os.environ | {
        "DATABASE_URL": bouncer.url(),
        "DATABASE_POOLED": "true",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }
    done = subprocess.run([sys.executable, "-m", "tests.private_world", *arguments], cwd=REPOSITORY,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def through(bouncer: PrivatePgBouncer, sql: str) -> str:
    done = subprocess.run(
        [require("psql"), "-h", "127.0.0.1", "-p", str(bouncer.port), "-U", "postgres",
         "-d", "booking", "-XAtq", "-c", sql],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()
