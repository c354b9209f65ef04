"""The point-in-time recovery drill (docs/operations.md), on private clusters of its own.

A cluster archives its WAL; a base backup is taken; bookings are made through the engine; a
moment is noted; more bookings are made. A second cluster restored from the base backup and the
archive up to that moment must hold exactly the bookings made before it.

DRILL_SEED_BOOKINGS=100000 runs the drill on the benchmark data set (seed_benchmark) and prints
the restore time, the figure docs/operations.md quotes.
"""

import os
import subprocess
import sys
import time

import pytest

from tests.servers import (
    REPOSITORY,
    PrivateCluster,
    as_server_user,
    require,
    running,
    server_directory,
)


def django_process(cluster: PrivateCluster, *arguments: str) -> list[str]:
    env = os.environ | {
        "DATABASE_URL": cluster.url("booking"),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }
    done = subprocess.run(
        [sys.executable, *arguments], cwd=REPOSITORY, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


def book(cluster: PrivateCluster, first: int, count: int) -> list[str]:
    return django_process(cluster, "-m", "tests.private_world", "book",
                          str(first), str(count))  # fmt: skip


def wait_until(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


@pytest.fixture
def archiving_cluster():
    require("pg_basebackup")
    directory = server_directory("pg-pitr-")
    archive = directory / "archive"
    cluster = PrivateCluster(directory, settings={
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": f"'test ! -f {archive}/%f && cp %p {archive}/%f'",
    })  # fmt: skip
    try:
        cluster.init()
        subprocess.run(as_server_user(["mkdir", str(archive)]), check=True)
        with running(cluster):
            yield cluster, archive
    finally:
        cluster.remove()


def test_a_restore_to_a_moment_holds_exactly_the_bookings_made_before_it(archiving_cluster):
    cluster, archive = archiving_cluster
    cluster.psql("CREATE DATABASE booking")
    django_process(cluster, "manage.py", "migrate", "--noinput")
    django_process(cluster, "-m", "tests.private_world", "world")
    if seeded := int(os.environ.get("DRILL_SEED_BOOKINGS", "0")):  # the drill at scale, for docs
        django_process(cluster, "manage.py", "seed_benchmark", "--bookings", str(seeded))

    restored = PrivateCluster(server_directory("pg-restored-"))
    try:
        base_started = time.monotonic()
        subprocess.run(
            as_server_user([require("pg_basebackup"), "-h", "127.0.0.1", "-p", str(cluster.port),
                            "-U", "postgres", "-D", str(restored.data), "-X", "stream",
                            "--checkpoint=fast"]),
            check=True, capture_output=True,
        )  # fmt: skip
        base_seconds = time.monotonic() - base_started
        seeded_codes = cluster.psql("SELECT code FROM bookings_booking", database="booking").split()
        seeded_occupancies = int(cluster.psql("SELECT count(*) FROM bookings_occupancy",
                                              database="booking"))  # fmt: skip
        before = book(cluster, 0, 12)
        time.sleep(0.2)
        moment = cluster.psql("SELECT now()")
        time.sleep(0.2)
        after = book(cluster, 12, 12)
        assert len(set(before + after)) == 24

        # Everything up to the last booking reaches the archive.
        last_segment = cluster.psql("SELECT pg_walfile_name(pg_switch_wal())")
        wait_until(
            lambda: (cluster.psql("SELECT last_archived_wal FROM pg_stat_archiver") or "")
            >= last_segment,
            timeout=30, what="archiving the last WAL segment",
        )  # fmt: skip

        restored.configure({
            "port": str(restored.port),
            "unix_socket_directories": f"'{restored.directory}'",
            "archive_mode": "off",
            "restore_command": f"'cp {archive}/%f %p'",
            "recovery_target_time": f"'{moment}'",
            "recovery_target_action": "'promote'",
        })  # fmt: skip
        subprocess.run(as_server_user(["touch", str(restored.data / "recovery.signal")]),
                       check=True)  # fmt: skip
        started = time.monotonic()
        with running(restored):
            wait_until(
                lambda: restored.psql("SELECT pg_is_in_recovery()") == "f",
                timeout=60, what="recovery to the moment",
            )  # fmt: skip
            restore_seconds = time.monotonic() - started
            codes = restored.psql("SELECT code FROM bookings_booking", database="booking").split()
            occupancies = restored.psql("SELECT count(*) FROM bookings_occupancy",
                                        database="booking")  # fmt: skip

        assert sorted(codes) == sorted(before + seeded_codes)
        assert occupancies == str(12 + seeded_occupancies)
        assert "recovery stopping before commit" in restored.log()
        print(f"base backup {base_seconds:.1f} s, point-in-time restore {restore_seconds:.1f} s")
    finally:
        restored.remove()
