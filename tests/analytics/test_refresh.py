"""Refreshing the views under real concurrency: each thread is its own PostgreSQL connection.

A refresh is held inside its transaction, after its REFRESH, by a row lock on its ViewRefresh
record taken by another connection: the refresh's final UPDATE waits for it. The tests watch
pg_stat_activity / pg_blocking_pids to know where each connection is, never sleep to guess.
"""

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.models import LocationDay, ReportView, ResourceDay, TouchedDay, ViewRefresh
from analytics.services import figures_update, table_rebuild
from analytics.tasks import analytics_tables_rebuild
from bookings.models import Booking, BookingStatus
from config.row_security import platform_wide
from tests.analytics.history import refresh_counts, views_emptied
from tests.factories import BookingFactory
from tests.scenarios import HELSINKI, NOW, CarWash

LOCATION_DAY = ReportView.LOCATION_DAY
WAIT = 20.0  # seconds: the deadline of every wait; none is reached unless something is broken
READ_TIMEOUT = "2s"


class Connection(threading.Thread):
    """Runs `work` on its own thread, so on its own database connection, closed at the end."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.pid: int | None = None
        self.connected = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            connection.ensure_connection()
            self.pid = connection.connection.info.backend_pid
            self.connected.set()
            self.result = self.work()
        except BaseException as error:
            self.error = error
        finally:
            self.connected.set()
            connection.close()

    def begin(self) -> "Connection":
        self.start()
        assert self.connected.wait(WAIT)
        return self

    def outcome(self) -> Any:
        self.join(WAIT)
        assert not self.is_alive(), "still running"
        if self.error is not None:
            raise self.error
        return self.result


class Hold(Connection):
    """A connection that does `take` in a transaction, then stays in it until released."""

    def __init__(self, take: Callable[[], None]) -> None:
        self.taken = threading.Event()
        self.released = threading.Event()

        def hold() -> None:
            with transaction.atomic():
                take()
                self.taken.set()
                assert self.released.wait(WAIT), "never released"

        super().__init__(hold)

    def begin(self) -> "Hold":
        super().begin()
        assert self.taken.wait(WAIT), self.error
        return self

    def release(self) -> None:
        self.released.set()


def record_locked(view: str) -> Hold:
    """Holds the view's ViewRefresh row FOR UPDATE: a refresh of it waits at its last UPDATE."""
    return Hold(lambda: ViewRefresh.objects.select_for_update().get(view=view)).begin()


def wait_until(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)
    return result


def blocking_pids(pid: int) -> list[int]:
    """The connections `pid` is waiting for a lock of (none if it runs or has gone)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_blocking_pids(%s)", [pid])
        return cursor.fetchone()[0]


def activity(pid: int) -> tuple[str | None, str]:
    # As the owner: the app role sees other sessions' statements masked.
    with scopes_disabled(), connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type, query FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
        return row if row else (None, "")


def locks_on(pid: int, relation: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT mode FROM pg_locks WHERE pid = %s AND relation = %s::regclass AND granted",
            [pid, relation],
        )
        return {mode for (mode,) in cursor.fetchall()}


def waits_at_its_record(refresh: Connection, hold: Hold) -> bool:
    """The refresh has run its REFRESH and waits for `hold` at the UPDATE of its record."""
    wait_event_type, query = activity(refresh.pid)
    return (
        blocking_pids(refresh.pid) == [hold.pid]
        and wait_event_type == "Lock"
        and query.startswith('UPDATE "analytics_viewrefresh"')
    )


def read_view(view: str) -> int | OperationalError:
    """A dashboard's read of the view that gives up after READ_TIMEOUT: its rows, or the error."""
    try:
        with (
            platform_wide("tests: every organization's rows"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(f"SET LOCAL statement_timeout = '{READ_TIMEOUT}'")
            cursor.execute(f"SELECT count(*) FROM {view}")
            return cursor.fetchone()[0]
    except OperationalError as error:
        return error


@pytest.fixture
def committed(transactional_db, fixed_now) -> CarWash:
    """A car wash with one booking last week, committed for every connection to see.

    The views start and end empty (a flush empties tables, not views), and each view has its
    record (a flush empties those too).
    """
    for view in ReportView:
        ViewRefresh.objects.get_or_create(
            view=view, defaults={"as_of": timezone.now(), "duration": timedelta(0)}
        )
    views_emptied()
    wash = CarWash()
    wash.booking = BookingFactory(
        past=True,
        service=wash.service,
        resource=wash.bay1,
        customer=wash.customer,
        starts_at=datetime(2029, 12, 1, 10, tzinfo=HELSINKI),
        created_at=datetime(2029, 11, 30, 10, tzinfo=HELSINKI),
    )
    yield wash
    views_emptied()


def test_a_concurrent_refresh_lets_readers_read_the_old_rows(committed):
    # given a rebuild that has replaced the table's rows and is still in its transaction
    record = record_locked(LOCATION_DAY)
    refresh = Connection(lambda: table_rebuild(view=LOCATION_DAY)).begin()
    try:
        wait_until(lambda: waits_at_its_record(refresh, record), "the refresh waits at its record")
        # (DELETE and INSERT take ROW EXCLUSIVE, which readers' ACCESS SHARE does not conflict
        # with; a TRUNCATE would hold ACCESS EXCLUSIVE, as the control below shows.)
        held = locks_on(refresh.pid, LOCATION_DAY)
        assert "RowExclusiveLock" in held
        assert "AccessExclusiveLock" not in held

        # when a dashboard reads the view meanwhile
        during = Connection(lambda: read_view(LOCATION_DAY)).begin().outcome()

        # then it is answered at once, with the rows from before the refresh
        assert during == 0
        assert refresh.is_alive()
    finally:
        record.release()
    assert refresh.outcome().as_of == NOW
    record.outcome()
    # and the refresh's rows come with its commit: the booking's day and the day it was made.
    assert read_view(LOCATION_DAY) == 2


def test_control_a_plain_refresh_held_open_blocks_the_same_reader(committed):
    """The test above has teeth: the same read, against a refresh that locks readers out."""

    def truncating_refresh() -> None:
        with scopes_disabled(), connection.cursor() as cursor:  # the tables' owner writes them
            cursor.execute(f"TRUNCATE {LOCATION_DAY}")

    refresh = Hold(truncating_refresh).begin()
    try:
        assert "AccessExclusiveLock" in locks_on(refresh.pid, LOCATION_DAY)

        during = Connection(lambda: read_view(LOCATION_DAY)).begin().outcome()

        assert isinstance(during, OperationalError)
        assert during.__cause__.sqlstate == "57014"  # query_canceled: the statement_timeout
    finally:
        refresh.release()
    refresh.outcome()


def test_a_refresh_started_while_one_runs_is_skipped(committed):
    # given the record held, so whichever refresh wins stays in its transaction
    before = refresh_counts()
    record = record_locked(LOCATION_DAY)
    barrier = threading.Barrier(2)

    def refresh() -> ViewRefresh | None:
        barrier.wait(WAIT)
        return table_rebuild(view=LOCATION_DAY)

    # when two refreshes of the view start at the same moment
    both = [Connection(refresh).begin() for _ in range(2)]
    try:
        loser = wait_until(
            lambda: next((c for c in both if not c.is_alive()), None), "one refresh returns"
        )
        (winner,) = (c for c in both if c is not loser)
        # then one returns None at once, while the other is still in its refresh
        assert loser.outcome() is None
        wait_until(lambda: waits_at_its_record(winner, record), "the winner waits at its record")
    finally:
        record.release()
    assert winner.outcome().refresh_count == before[LOCATION_DAY] + 1
    record.outcome()
    assert refresh_counts() == before | {LOCATION_DAY: before[LOCATION_DAY] + 1}


def test_two_refresh_tasks_started_together_refresh_each_view_once(committed):
    # given every view's record held: whoever wins a view stays in its refresh transaction
    before = refresh_counts()
    records = {view: record_locked(view) for view in ReportView}
    by_pid = {record.pid: view for view, record in records.items()}
    barrier = threading.Barrier(2)

    def task() -> dict[str, bool]:
        barrier.wait(WAIT)
        return analytics_tables_rebuild.apply().get()

    # when two beats start the task at the same moment
    tasks = [Connection(task).begin() for _ in range(2)]

    def settled() -> set[str] | bool:
        """Once every running task waits at a held record: those records' views."""
        waited_on = set()
        for running in tasks:
            if not running.is_alive():
                continue
            blockers = blocking_pids(running.pid)
            assert not set(blockers) & {task.pid for task in tasks}, (
                "a task waits for the other one: both are refreshing one view"
            )
            if not blockers or not set(blockers) <= by_pid.keys():
                return False
            waited_on |= {by_pid[pid] for pid in blockers}
        return waited_on or True

    try:
        # Each task runs until it waits at a record; the refresh of the earliest view in the
        # task's order is let go first. Its task then finds every later view it reaches either
        # taken by the other task (skipped) or free (it waits there in turn), and the other
        # task has passed every view before the one it waits at: so each view's second
        # attempt comes while its first is still in its transaction.
        while any(running.is_alive() for running in tasks):
            waited_on = wait_until(settled, "every running task waits at a record")
            if waited_on is True:
                continue
            first = min(waited_on, key=list(ReportView).index)
            records[first].release()
    finally:
        for record in records.values():
            record.release()
    results = [running.outcome() for running in tasks]
    for record in records.values():
        record.outcome()

    # then each view was refreshed by one task and skipped by the other
    for view in ReportView:
        assert sorted(result[view] for result in results) == [False, True], view
    assert refresh_counts() == {view: count + 1 for view, count in before.items()}


def test_refresh_analytics_refreshes_every_view_and_says_so(committed):
    wash = committed
    before = refresh_counts()
    out = StringIO()

    call_command("refresh_analytics", stdout=out)

    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ReportView.values
    assert all(" rebuilt in " in line and str(NOW) in line for line in lines)
    assert refresh_counts() == {view: count + 1 for view, count in before.items()}
    with scopes_disabled():
        assert LocationDay.objects.filter(location=wash.location).count() == 2
        # Two bays, every day from the booking's (1 December) to yesterday (6 December).
        assert ResourceDay.objects.filter(location=wash.location).count() == 12


def test_refresh_analytics_view_refreshes_that_view_only(committed):
    wash = committed
    before = refresh_counts()
    out = StringIO()

    call_command("refresh_analytics", "--view", ReportView.RESOURCE_DAY, stdout=out)

    assert out.getvalue().startswith(f"{ReportView.RESOURCE_DAY}: rebuilt in ")
    assert len(out.getvalue().splitlines()) == 1
    assert refresh_counts() == before | {
        ReportView.RESOURCE_DAY: before[ReportView.RESOURCE_DAY] + 1
    }
    with scopes_disabled():
        assert ResourceDay.objects.filter(location=wash.location).count() == 12
        assert not LocationDay.objects.exists()


def test_refresh_analytics_skips_a_view_being_refreshed_and_says_so(committed):
    # given a refresh of the location-day view in progress elsewhere
    record = record_locked(LOCATION_DAY)
    refresh = Connection(lambda: table_rebuild(view=LOCATION_DAY)).begin()
    try:
        wait_until(lambda: waits_at_its_record(refresh, record), "the refresh waits at its record")
        out = StringIO()

        # when the command is run for it and another view
        call_command(
            "refresh_analytics",
            "--view",
            LOCATION_DAY,
            "--view",
            ReportView.OFFERING_MONTH,
            stdout=out,
        )
    finally:
        record.release()
    refresh.outcome()
    record.outcome()

    # then it says it skipped the one and refreshed the other
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{LOCATION_DAY}: skipped, another refresh of it is running"
    assert lines[1].startswith(f"{ReportView.OFFERING_MONTH}: rebuilt in ")
    assert len(lines) == 2


def test_an_update_started_while_a_rebuild_runs_is_skipped(committed):
    # given a rebuild of one table in its transaction
    record = record_locked(LOCATION_DAY)
    refresh = Connection(lambda: table_rebuild(view=LOCATION_DAY)).begin()
    try:
        wait_until(lambda: waits_at_its_record(refresh, record), "the refresh waits at its record")

        # then an update, which writes every table, does not wait for it: it is skipped
        assert Connection(figures_update).begin().outcome() is None
    finally:
        record.release()
    refresh.outcome()
    record.outcome()
    assert figures_update() is not None  # and runs once the rebuild is done


def test_a_write_an_update_could_not_see_stays_marked_for_the_next_one(committed):
    wash = committed
    for view in ReportView:
        table_rebuild(view=view)
    TouchedDay.objects.all().delete()  # the rebuild counted the fixture's writes
    booking = wash.booking  # completed, on 1 December 2029 in Helsinki
    day = booking.starts_at.astimezone(HELSINKI).date()
    # given the booking's day marked by a committed write (a no-show recorded)
    with scopes_disabled():
        Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.NO_SHOW)

    def completed_after_all() -> None:
        with scopes_disabled():
            Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.COMPLETED)

    # and a second write to that day, not committed yet
    write = Hold(completed_after_all).begin()
    try:
        # when an update runs meanwhile: it does not wait for the write, nor sees it
        assert Connection(figures_update).begin().outcome().days == 1
        assert outcomes_on(wash.location, day) == (0, 1)
    finally:
        write.release()
    write.outcome()

    # then the write's own mark is still there, and the next update brings the write in
    with scopes_disabled():
        assert TouchedDay.objects.filter(location_id=wash.location.pk, day=day).exists()
    figures_update()
    assert outcomes_on(wash.location, day) == (1, 0)


def outcomes_on(location, day) -> tuple[int, int]:
    """(completed, no-shows) of the location's day in the table."""
    with scopes_disabled():
        row = LocationDay.objects.get(location=location, day=day)
    return row.completed, row.no_shows
