"""Reads that tolerate some staleness go to a healthy streaming replica; the rest to the primary.

With no DATABASE_REPLICA_URLS nothing here does anything: the router answers None and Django
uses the one database. With replicas, a read goes to one only when all of these hold:

- the code asked for it: inside `replica_reads` (the public catalogue, the customer's booking
  history, analytics); every other read, and every write, goes to the primary. Availability is
  computed on the primary: its answer is cached under the version its day had when it was
  computed, and a computation on a replica that has not replayed the latest booking would be
  cached as fresh (docs/scaling.md: the replay-position token that would lift this);
- it is not inside a transaction on the primary (a read that decides a write must see the
  primary's data: the no-double-booking constraint and the services' locks live there);
- the client has not written in the last DATABASE_READ_YOUR_WRITES_SECONDS (read-your-writes:
  after a booking, a cancel or a staff action, the client's reads stay on the primary for a
  while; `ReadYourWritesMiddleware` marks it with a cookie, and for a signed-in user also in
  the cache, so an API client without cookies is covered too);
- a replica is healthy: reachable and no more than DATABASE_REPLICA_MAX_LAG_SECONDS behind,
  checked at most every DATABASE_REPLICA_CHECK_SECONDS per process. Otherwise the read quietly
  goes to the primary.
"""

import contextvars
import functools
import logging
import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

PIN_COOKIE = "primary_reads"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Inside replica_reads: the replicas the view's reads went to (None outside: primary only).
_stale_reads_ok: contextvars.ContextVar[set | None] = contextvars.ContextVar(
    "stale_reads_ok", default=None
)
_request = contextvars.ContextVar("replica_request", default=None)


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica")]


def replica_reads(view):
    """Decorates a read-only view (a GET handler): its reads may come from a healthy replica.

    A replica that fails during the view (stopped, restarted, cut off) is marked down and the
    view runs again on the primary, so the client gets its answer, not an error.
    """

    @functools.wraps(view)
    def run(*args, **kwargs):
        return on_replica(view, *args, **kwargs)

    return run


def on_replica(call, *args, **kwargs):
    used: set[str] = set()
    token = _stale_reads_ok.set(used)
    try:
        return call(*args, **kwargs)
    except DatabaseError as error:
        if not used:
            raise  # the primary failed: nothing to fall back to
        for alias in used:
            _mark_down(alias, error)
    finally:
        _stale_reads_ok.reset(token)
    return call(*args, **kwargs)


# --- Health --------------------------------------------------------------------------------------


@dataclass
class _Checked:
    healthy: bool
    lag_seconds: float | None
    at: float


_health: dict[str, _Checked] = {}

# Caught up when everything received is replayed; else how old the last replayed commit is.
LAG_SQL = """
SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END
"""


def replica_is_healthy(alias: str) -> bool:
    checked = _health.get(alias)
    now = time.monotonic()
    if checked is None or now - checked.at >= settings.DATABASE_REPLICA_CHECK_SECONDS:
        checked = _health[alias] = _check(alias, now)
    return checked.healthy


def replica_lag(alias: str) -> float | None:
    """The lag last measured (None: unreachable, or not a replica)."""
    replica_is_healthy(alias)
    return _health[alias].lag_seconds


def _check(alias: str, now: float) -> _Checked:
    was = _health.get(alias)
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(LAG_SQL)
            (lag,) = cursor.fetchone()
    except DatabaseError as error:
        connections[alias].close()
        if was is None or was.healthy:
            logger.warning("Replica %s is unreachable: reading from the primary (%s)", alias,
                           str(error).strip())  # fmt: skip
        return _Checked(healthy=False, lag_seconds=None, at=now)
    lag = None if lag is None else float(lag)
    limit = settings.DATABASE_REPLICA_MAX_LAG_SECONDS
    healthy = lag is not None and lag <= limit
    if not healthy and (was is None or was.healthy):
        state = "not in recovery" if lag is None else f"{lag:.1f} s behind (limit {limit} s)"
        logger.warning("Replica %s is %s: skipped, reading from the primary", alias, state)
    elif healthy and was is not None and not was.healthy:
        logger.warning("Replica %s is healthy again (lag %.1f s)", alias, lag)
    return _Checked(healthy=healthy, lag_seconds=lag, at=now)


def _mark_down(alias: str, error: Exception) -> None:
    connections[alias].close()
    was = _health.get(alias)
    if was is None or was.healthy:
        logger.warning("Replica %s failed during a read: reading from the primary (%s)", alias,
                       str(error).strip())  # fmt: skip
    _health[alias] = _Checked(healthy=False, lag_seconds=None, at=time.monotonic())


def forget_health() -> None:
    """Check every replica again on the next read (tests, and after a failover)."""
    _health.clear()


# --- Read-your-writes ------------------------------------------------------------------------


def _pin_key(user_id) -> str:
    return f"primary-reads:{user_id}"


def _pinned_to_primary(request: HttpRequest) -> bool:
    if PIN_COOKIE in request.COOKIES:
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and cache.get(_pin_key(user.pk)))


class ReadYourWritesMiddleware:
    """After a client's successful write, its reads stay on the primary for a while."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.DATABASE_REPLICA_URLS:
            return self.get_response(request)
        token = _request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(token)
        if request.method in UNSAFE_METHODS and response.status_code < 400:
            window = settings.DATABASE_READ_YOUR_WRITES_SECONDS
            response.set_cookie(PIN_COOKIE, "1", max_age=window, httponly=True, samesite="Lax",
                                secure=request.is_secure())  # fmt: skip
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                cache.set(_pin_key(user.pk), 1, window)
        return response


# --- The router ----------------------------------------------------------------------------------


class ReplicaRouter:
    def db_for_read(self, model, **hints) -> str | None:
        used = _stale_reads_ok.get()
        if used is None:
            return None
        aliases = replica_aliases()
        if not aliases or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return None
        request = _request.get()
        if request is not None and _pinned_to_primary(request):
            return None
        healthy = [alias for alias in aliases if replica_is_healthy(alias)]
        if not healthy:
            return None
        alias = random.choice(healthy)
        used.add(alias)
        return alias

    def db_for_write(self, model, **hints) -> str | None:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # replicas hold the primary's rows

    def allow_migrate(self, db, app_label, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS
