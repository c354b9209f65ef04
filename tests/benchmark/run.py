"""`make bench`: the platform's hot paths against a bare-Django floor, measured in one run.

    make bench [BENCH_BOOKINGS=100000] [BENCH_SECONDS=8] [BENCH_ROUNDS=2] [BENCH_WORKERS=4]
               [BENCH_ROW_SECURITY=compare]

Both the floor (tests/benchmark/floor.py) and the platform (production settings) run under
gunicorn with config/gunicorn.conf.py and the same workers, on the same PostgreSQL and Redis;
wrk loads them in turns (floor, platform, floor, platform...) so both see the same machine, and
the table gives each path's ratio to its floor, the figure that counts on a noisy machine.
BENCH_ROW_SECURITY=compare adds a third gunicorn, the platform with DATABASE_ROW_SECURITY=false,
to the same turns, and a column with what row-level security costs (config/row_security.py).
Last, with the gunicorns stopped, an uncached service-week of availability is timed in one
process (tests/benchmark/in_process.py).

Services: DATABASE_URL's server (a database `platform_bench` is made on it) or the embedded
PostgreSQL; REDIS_URL or a private redis-server; CELERY_BROKER_URL or none (emails then wait in
the outbox, as they would with the broker down). wrk comes from Debian (`apt-get install wrk`).
"""

import base64
import calendar
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from urllib.request import urlopen

import psycopg

from tests.servers import REPOSITORY, Gunicorn, PrivateRedis

BOOKINGS = int(os.environ.get("BENCH_BOOKINGS", "100000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
COMPARE_ROW_SECURITY = os.environ.get("BENCH_ROW_SECURITY", "") == "compare"
WITHOUT_RLS = "platform without RLS"
DATABASE = os.environ.get("BENCH_DATABASE", "platform_bench")
LUA = Path(__file__).with_name("race.lua")

FLOOR_TABLES = """
CREATE TABLE IF NOT EXISTS floor_booking (
    id bigserial PRIMARY KEY, starts_at timestamptz NOT NULL, ends_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS floor_occupancy (
    id bigserial PRIMARY KEY, resource_id bigint NOT NULL,
    booking_id bigint NOT NULL REFERENCES floor_booking,
    starts_at timestamptz NOT NULL, ends_at timestamptz NOT NULL,
    EXCLUDE USING gist (occupancy_range(resource_id, starts_at, ends_at) WITH &&));
TRUNCATE floor_occupancy, floor_booking;
"""


@dataclass
class Measure:
    successes: int
    requests_per_second: float
    successes_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int


@dataclass
class Path_:
    name: str
    floor_url: str
    platform_url: str
    connections: int
    race: bool = False


def main() -> None:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("make bench needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        folder = Path(folder)
        redis = None
        if not os.environ.get("REDIS_URL"):
            redis = PrivateRedis(folder / "redis")
            redis.start()
        try:
            run(wrk, folder, os.environ.get("REDIS_URL") or redis.url)
        finally:
            if redis is not None:
                redis.stop()


def run(wrk: str, folder: Path, redis_url: str) -> None:
    database_url = bench_database()
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "memory://"),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
        # Fixed, so a benchmark database kept from an earlier run stays readable.
        "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(
            b"bench-only-field-key".ljust(32, b"x")
        ).decode(),
        "BLIND_INDEX_KEY": "bench-only-blind-index-key-" + "x" * 20,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        # The throttles stay in force (their cost is measured) with limits a race never meets.
        "API_THROTTLE_ANON": "100000000/min",
        "API_THROTTLE_USER": "100000000/min",
        "API_THROTTLE_BOOKING_CREATE": "100000000/hour",
        "GUNICORN_MAX_REQUESTS": "0",
    }
    say(f"Preparing {DATABASE} ({BOOKINGS:,} bookings; the first run seeds them)...")
    manage(env, "migrate", "--noinput")
    # Seeding is a command, not a request: no statement budget (its bulk inserts take minutes).
    seeding = env | {"DATABASE_STATEMENT_TIMEOUT": "0"}
    world = json.loads(
        python(seeding, "-m", "tests.benchmark.prepare", str(BOOKINGS)).strip().splitlines()[-1]
    )
    with psycopg.connect(psycopg_url(database_url), autocommit=True) as conn:
        conn.execute(FLOOR_TABLES)

    platform = Gunicorn(folder, env, workers=WORKERS)
    floor = Gunicorn(
        folder,
        env | {"DJANGO_SETTINGS_MODULE": "tests.benchmark.floor", "BENCH_FLOOR_DIR": str(folder)},
        workers=WORKERS,
        app="tests.benchmark.floor:application",
    )
    # The same platform with the second tenant wall down, to measure what the wall costs.
    without_rls = (
        Gunicorn(folder, env | {"DATABASE_ROW_SECURITY": "false"}, workers=WORKERS)
        if COMPARE_ROW_SECURITY
        else None
    )
    platform.start()
    if without_rls is not None:
        without_rls.start()
    try:
        api = f"{platform.url}/api/v1/organizations/{world['organization']}"
        week = (f"{api}/services/{world['wash']}/availability/?location={world['site']}"
                f"&date_from={world['week_from']}&date_to={world['week_to']}")  # fmt: skip
        # The floor answers with the platform's own bodies: the same bytes on the wire.
        for name, url in (("availability", week), ("organization", f"{api}/")):
            (folder / f"{name}.json").write_bytes(urlopen(url, timeout=30).read())
        floor.start()
        paths = [
            Path_("cached availability (service-week)", f"{floor.url}/cached/availability",
                  week, 32),
            Path_("catalogue: organization", f"{floor.url}/cached/organization", f"{api}/", 32),
            Path_("booking creation, 16 racers", f"{floor.url}/book", f"{api}/bookings/", 16,
                  race=True),
        ]  # fmt: skip
        rows = []
        run_id = str(time.time_ns())
        race_answers = 0  # 201s the platform gave in the race, warm-up included
        race_day = calendar.timegm(time.strptime(world["race_first_day"], "%Y-%m-%d"))
        for path in paths:
            say(f"Measuring {path.name}...")
            sides = [("floor", path.floor_url), ("platform", path.platform_url)]
            if without_rls is not None:
                off_url = path.platform_url.replace(platform.url, without_rls.url)
                sides.append((WITHOUT_RLS, off_url))
            measured: dict[str, list[Measure]] = {side: [] for side, _url in sides}
            for round_ in range(ROUNDS + 1):  # round 0 warms every side up and is not counted
                for turn, (side, url) in enumerate(sides):
                    seconds = 2 if round_ == 0 else SECONDS
                    race_args = None
                    if path.race:
                        fields = (
                            "" if side == "floor"
                            else f'"service": {world["race"]}, "location": {world["track"]}, '
                        )  # fmt: skip
                        # Each burst books days of its own (a burst books fewer than 100).
                        base = race_day + (round_ * len(sides) + turn) * 100 * 86400
                        race_args = [str(base), "2", fields, f"Bearer {world['token']}", run_id]
                    result = load(wrk, url, path.connections, seconds, race_args)
                    if path.race and side != "floor":
                        race_answers += result.successes
                    if round_:
                        measured[side].append(result)
            rows.append((path, measured))
        checks = race_checks(database_url, world, race_answers)
    finally:
        floor.stop()
        platform.stop()
        if without_rls is not None:
            without_rls.stop()
    print_table(rows)
    print(checks)
    say("Timing uncached availability in one process...")
    timed = json.loads(python(env, "-m", "tests.benchmark.in_process").strip().splitlines()[-1])
    week = timed["uncached_week"]
    print(f"uncached availability (service-week, in process, {week['count']} weeks): "
          f"p50 {week['p50_ms']} ms, p95 {week['p95_ms']} ms, max {week['max_ms']} ms")  # fmt: skip


def load(wrk: str, url: str, connections: int, seconds: int, race: list[str] | None) -> Measure:
    command = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if race is not None:
        command += ["-s", str(LUA), url, "--", *race]
    else:
        command.append(url)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in ([\d.]+)(m?s)", out).group(1))
    elapsed = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    failures = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failures += sum(int(n) for n in errors.groups()) if errors else 0
    return Measure(
        successes=total - failures,
        requests_per_second=total / elapsed,
        successes_per_second=(total - failures) / elapsed,
        p50_ms=_latency(out, "50%"),
        p99_ms=_latency(out, "99%"),
        failures=failures,
    )


def _latency(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def race_checks(database_url: str, world: dict, answered: int) -> str:
    """What the engine guarantees, checked on the race's bookings after the run.

    wrk stops counting at the end of a burst while the server finishes what is in flight, so
    there may be a few more bookings than 201s counted, never fewer.
    """
    with psycopg.connect(psycopg_url(database_url)) as conn:
        bookings, overlaps, without_event, without_email = conn.execute(
            """SELECT count(*),
                      (SELECT count(*) FROM bookings_occupancy a JOIN bookings_occupancy b
                         ON a.resource_id = b.resource_id AND a.id < b.id
                        AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
                       WHERE a.booking_id IN
                             (SELECT id FROM bookings_booking WHERE location_id = %s)),
                      count(*) FILTER (WHERE NOT EXISTS
                        (SELECT 1 FROM bookings_bookingevent e WHERE e.booking_id = b.id)),
                      count(*) FILTER (WHERE NOT EXISTS
                        (SELECT 1 FROM bookings_outboxemail o WHERE o.booking_id = b.id))
               FROM bookings_booking b WHERE b.location_id = %s""",
            [world["track"], world["track"]],
        ).fetchone()
    return (
        f"Race track after all runs: {answered:,} answered 201, {bookings:,} bookings, "
        f"{overlaps} overlaps, "
        f"{without_event} without a timeline entry, {without_email} without an email."
    )


def median(measures: list[Measure], field: str) -> float:
    return statistics.median(getattr(measure, field) for measure in measures)


def rate(measures: list[Measure]) -> float:
    return median(measures, "successes_per_second")


def print_table(rows) -> None:
    print()
    sides = (
        "floor, platform and platform without RLS"
        if COMPARE_ROW_SECURITY
        else ("floor and platform")
    )
    print(f"make bench: {BOOKINGS:,} bookings, {WORKERS} gunicorn workers each, "
          f"{ROUNDS} rounds of {SECONDS} s, alternating {sides}")  # fmt: skip
    header = ("path", "floor/s", "platform/s", "ratio", "p50 ms floor/platform",
              "p99 ms floor/platform", "failed floor/platform")  # fmt: skip
    if COMPARE_ROW_SECURITY:
        header += ("without RLS/s", "p50 ms without RLS", "RLS cost")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for path, measured in rows:
        floor, platform = measured["floor"], measured["platform"]
        cost = []
        if COMPARE_ROW_SECURITY:
            off = measured[WITHOUT_RLS]
            # The throughput the wall takes away, as a share of the platform without it.
            cost = [f"{rate(off):,.0f}", f"{median(off, 'p50_ms'):.1f}",
                    f"{1 - rate(platform) / rate(off):+.1%}"]  # fmt: skip
        print(" | ".join([
            path.name,
            f"{rate(floor):,.0f}",
            f"{rate(platform):,.0f}",
            f"{rate(platform) / rate(floor):.0%}",
            f"{median(floor, 'p50_ms'):.1f} / {median(platform, 'p50_ms'):.1f}",
            f"{median(floor, 'p99_ms'):.1f} / {median(platform, 'p99_ms'):.1f}",
            f"{sum(m.failures for m in floor)} / {sum(m.failures for m in platform)}",
            *cost,
        ]))  # fmt: skip


# --- Plumbing ------------------------------------------------------------------------------------


def bench_database() -> str:
    """DATABASE_URL's server (or the embedded one) with the benchmark's own database on it."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        from config.embedded_postgres import embedded_database_url

        url = embedded_database_url(REPOSITORY / ".pgdata")
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return urlunsplit(urlsplit(url)._replace(path=f"/{DATABASE}"))


def psycopg_url(url: str) -> str:
    return re.sub(r"^postgres(ql)?://", "postgresql://", url)


def manage(env: dict, *arguments: str) -> str:
    return python(env, "manage.py", *arguments)


def python(env: dict, *arguments: str) -> str:
    done = subprocess.run([sys.executable, *arguments], cwd=REPOSITORY, env=os.environ | env,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
