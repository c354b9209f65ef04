"""What a request does when PostgreSQL cannot answer in time: the kit's database faults.

Every connection carries a `statement_timeout` and a `lock_timeout` (settings
DATABASE_STATEMENT_TIMEOUT / DATABASE_LOCK_TIMEOUT), so one lock held on a table (a migration, a
long admin transaction) makes the requests that need that table fail fast instead of freezing
every gunicorn worker. This module turns what PostgreSQL then says into what a user sees:

* busy (a lock or statement timeout, or a deadlock that survived its retries): 503
  `database_busy` with Retry-After;
* unavailable (connection refused or reset: a restart, a failover, too many connections): a
  GET or HEAD is run once more on a fresh connection after a short pause; anything else (and a
  read that fails again) answers 503 `database_unavailable` with Retry-After. Writes are never
  retried blindly: the client's Idempotency-Key is the tool for that.

`atomic_with_retry` re-runs a whole transaction PostgreSQL aborted as a deadlock or a
serialization failure; `task_statement_budget` gives a task or command a longer statement
budget than a request's.
"""

import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar

import psycopg
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from psycopg import errors as pg

log = logging.getLogger(__name__)

BUSY = "database_busy"
UNAVAILABLE = "database_unavailable"
# Seconds a client is asked to wait: a lock outlives a lock_timeout; a restart takes seconds.
RETRY_AFTER_SECONDS = {BUSY: 5, UNAVAILABLE: 3}
MESSAGES = {
    BUSY: "The system is busy with this data right now; please try again in a few seconds.",
    UNAVAILABLE: "The system is briefly unavailable; please try again in a few seconds.",
}
# A restart closes connections a moment before it accepts new ones: wait this long before the
# read's one retry.
RETRY_PAUSE_SECONDS = 0.5

# SQLSTATEs of a transaction PostgreSQL aborted only because of another one: running it again
# as a whole is safe and usually succeeds.
RETRYABLE = (pg.DeadlockDetected, pg.SerializationFailure)
# Waited too long: lock_timeout (55P03), statement_timeout (57014).
BUSY_ERRORS = (pg.LockNotAvailable, pg.QueryCanceled, *RETRYABLE)


def database_fault(error: BaseException | None) -> str | None:
    """BUSY, UNAVAILABLE, or None when the error is not the database failing to answer."""
    if not isinstance(error, OperationalError | InterfaceError):
        return None
    cause = error.__cause__
    if isinstance(cause, BUSY_ERRORS):
        return BUSY
    if isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError) or cause is None:
        # Connection refused or reset, "terminating connection due to administrator command",
        # "the database system is starting up", too many connections, a closed connection.
        return UNAVAILABLE
    return None


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, DatabaseError) and isinstance(error.__cause__, RETRYABLE)


def atomic_with_retry(function: Callable | None = None, *, attempts: int = 3):
    """`transaction.atomic`, re-run whole when PostgreSQL aborts it as a deadlock or a
    serialization failure (each attempt starts from nothing: what the first wrote is gone).

    Only the outermost transaction can be re-run: nested inside another atomic block this is
    plain `atomic`, and the error travels up to the block that owns the transaction. Nested
    inside another `atomic_with_retry` it takes no savepoint either (each is a round trip): an
    error there undoes the whole transaction anyway, which is then re-run or refused whole.
    Code that must survive a failed step keeps its own `transaction.atomic()` around it.
    """

    def decorate(body: Callable) -> Callable:
        @functools.wraps(body)
        def run(*args, **kwargs):
            if connection.in_atomic_block:
                with transaction.atomic(savepoint=not _retried_transaction.get()):
                    return body(*args, **kwargs)
            for attempt in range(1, attempts + 1):
                try:
                    with transaction.atomic(), _running_retried_transaction():
                        return body(*args, **kwargs)
                except DatabaseError as error:
                    if attempt == attempts or not is_retryable(error):
                        raise
                    log.warning(
                        "%s: %s; running the transaction again (attempt %d)",
                        body.__qualname__,
                        type(error.__cause__).__name__,
                        attempt + 1,
                    )
                    time.sleep(0.01 * attempt)

        return run

    return decorate(function) if function is not None else decorate


# True while the body of an outermost `atomic_with_retry` runs: the transaction is re-run or
# rolled back as a whole, so the blocks nested in it need no savepoints of their own.
_retried_transaction: ContextVar[bool] = ContextVar("retried_transaction", default=False)


@contextmanager
def _running_retried_transaction() -> Iterator[None]:
    token = _retried_transaction.set(True)
    try:
        yield
    finally:
        _retried_transaction.reset(token)


@contextmanager
def task_statement_budget(seconds: float) -> Iterator[None]:
    """A longer statement_timeout than a request's, for the rest of the current transaction of
    a task or command (0: no limit).

    SET LOCAL ends with the transaction, so the connection goes back to the request budget
    whatever happens; outside a transaction it would end at once, so that is refused.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("task_statement_budget needs a transaction (transaction.atomic).")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true)", [str(int(seconds * 1000))]
        )
    yield


def connection_options(*, statement_timeout: float, lock_timeout: float) -> str:
    """The libpq `options` that set the timeouts at connect time (0 disables one)."""
    return (
        f"-c statement_timeout={int(statement_timeout * 1000)} "
        f"-c lock_timeout={int(lock_timeout * 1000)}"
    )


class DatabaseFaultMiddleware:
    """Answers every database fault with a 503; retries a read once after a lost connection.

    A fault raised by a view reaches `process_exception` (DRF lets these through:
    config.api.errors.exception_handler); one raised by a middleware before the view (the tenant
    lookup, usually a request's first query) reaches handler500, which answers it the same way
    (config.api.errors.server_error). Either answer is marked with its fault, so this
    middleware, near the top of the stack, can run a GET or HEAD once more, whole, on a fresh
    connection. Writes are never re-run: the client resends them with its Idempotency-Key.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            getattr(response, "database_fault", None) == UNAVAILABLE
            and request.method in ("GET", "HEAD")
            and not connection.in_atomic_block
        ):
            log.warning("lost the database connection; running %s once more", request.path)
            with suppress(DatabaseError):  # already gone: the next query connects afresh
                connection.close()
            time.sleep(RETRY_PAUSE_SECONDS)
            response = self.get_response(request)
        return response

    def process_exception(self, request, exception: Exception):
        fault = database_fault(exception)
        if fault is None:
            return None
        log.warning("answering 503 %s: %s", fault, exception)
        # Imported here: the error bodies and the 503 page live with the API's errors, which
        # import this module.
        from config.api.errors import database_fault_response

        return database_fault_response(request, fault)
