"""Issue 15, item 6: racing bookings never deadlock into a 500.

CUSTOMERS clients, each on its own gunicorn thread and PostgreSQL connection, book every slot of
a day at a five-bay service ("any bay"), all in the same order, so every slot is fought over by
all of them at once. Each must get 201 or 409 slot_taken; the cluster's log must show no
deadlock; every bay of every slot ends up booked exactly once, with no overlap.
"""

import os
import threading
import uuid

from tests.faults.conftest import report

CUSTOMERS = 20
BAYS = 5
# Eight one-hour slots a day. The deadlock was a narrow window (3 in 753 requests before the
# fix): FAULTS_RACE_DAYS=6 races 960 requests, as the operations notes did.
DAYS = int(os.environ.get("FAULTS_RACE_DAYS", "2"))
GUNICORN_WORKERS, GUNICORN_THREADS = 2, 10  # 20 request threads: 20 connections at once


def test_racing_any_bay_bookings_get_201_or_slot_taken_and_never_deadlock(site_for):
    site = site_for(
        customers=CUSTOMERS, bays=BAYS, workers=GUNICORN_WORKERS, threads=GUNICORN_THREADS
    )
    slots = [(day, hour) for day in range(DAYS) for hour in range(len(site.world["hours"]))]
    start = threading.Barrier(CUSTOMERS)
    answers = []

    def customer(token: str) -> None:
        start.wait(timeout=60)
        for day, hour in slots:  # the same order for everyone: each slot is raced by all
            answer = site.call(
                "POST", site.api("bookings/"), token=token, body=site.booking(day, hour),
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )  # fmt: skip
            answers.append(answer)

    clients = [threading.Thread(target=customer, args=(t,)) for t in site.world["tokens"]]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(timeout=600)

    statuses = [a.status for a in answers]
    seats = len(slots) * BAYS
    assert len(answers) == CUSTOMERS * len(slots)
    assert set(statuses) <= {201, 409}, [a.body for a in answers if a.status not in (201, 409)]
    assert {a.code for a in answers if a.status == 409} <= {"slot_taken"}
    # every bay of every slot was booked, once: nobody was refused a free bay
    assert statuses.count(201) == seats
    assert site.sql("SELECT count(*) FROM bookings_booking") == str(seats)
    assert site.sql("SELECT count(*) FROM bookings_occupancy") == str(seats)
    overlaps = site.sql(
        "SELECT count(*) FROM bookings_occupancy a JOIN bookings_occupancy b "
        "ON a.resource_id = b.resource_id AND a.id < b.id "
        "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
    )
    assert overlaps == "0"
    server_log = site.cluster.log()
    assert "deadlock detected" not in server_log
    retries = site.gunicorn.log().count("running the transaction again")

    report(
        "race",
        {
            "clients": CUSTOMERS,
            "connections": GUNICORN_WORKERS * GUNICORN_THREADS,
            "slots": len(slots),
            "bays": BAYS,
            "requests": len(answers),
            "booked_201": statuses.count(201),
            "slot_taken_409": statuses.count(409),
            "server_errors_5xx": sum(s >= 500 for s in statuses),
            "deadlocks_in_server_log": server_log.count("deadlock detected"),
            "transactions_run_again": retries,
            "answer_seconds_max": round(max(a.seconds for a in answers), 2),
        },
    )
