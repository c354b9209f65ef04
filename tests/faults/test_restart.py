"""Issue 15, item 7: a PostgreSQL restart is a short 503 with Retry-After, never a 500.

While readers and bookers load the site through gunicorn, the cluster is restarted the way an
operator (or a failover) does it: a fast shutdown closes every connection, and new ones are
refused until it is back, FAULTS_DOWN_SECONDS later (2.5 s: what the issue measured as 500s; a
bare `pg_ctl restart` of this small cluster takes 0.2 s, too short to hurt anyone). A read is
run once more on a fresh connection, so most never notice; the rest get 503
database_unavailable with Retry-After. A booking is never re-run by the server: the client
resends it with the same Idempotency-Key until it has an answer, and each key books exactly once.
"""

import os
import threading
import time
import uuid
from collections import defaultdict

from tests.faults.conftest import Answer, p95, report

READERS = 3
BOOKERS = 3
BOOKINGS_EACH = 8
MAX_READS = 2000
MAX_RESENDS = 60
PAUSE_BETWEEN_BOOKINGS = 0.4
DOWN_SECONDS = float(os.environ.get("FAULTS_DOWN_SECONDS", "2.5"))


def test_a_restart_answers_200_or_503_and_each_idempotency_key_books_once(site_for):
    site = site_for(customers=BOOKERS + 1, bays=2, workers=2, threads=4)
    tokens = site.world["tokens"]
    reader_token = tokens[BOOKERS]
    paths = [site.api("services/"), site.availability_path(), "/api/v1/me/bookings/"]
    stop_reading = threading.Event()
    reads: list[Answer] = []
    sends: dict[str, list[Answer]] = defaultdict(list)

    def reader() -> None:
        for n in range(MAX_READS):
            if stop_reading.is_set():
                return
            reads.append(site.call("GET", paths[n % len(paths)], token=reader_token))
            time.sleep(0.02)

    def booker(index: int) -> None:
        for hour in range(BOOKINGS_EACH):
            key = str(uuid.uuid4())
            for _ in range(MAX_RESENDS):
                answer = site.call(
                    "POST", site.api("bookings/"), token=tokens[index],
                    body=site.booking(index, hour), headers={"Idempotency-Key": key},
                )  # fmt: skip
                sends[key].append(answer)
                if answer.status not in (0, 503):
                    break
                # A client honouring Retry-After, capped so the test stays short.
                time.sleep(min(float(answer.retry_after or 0.2), 0.5))
            time.sleep(PAUSE_BETWEEN_BOOKINGS)

    clients = [threading.Thread(target=reader) for _ in range(READERS)]
    clients += [threading.Thread(target=booker, args=(i,)) for i in range(BOOKERS)]
    for thread in clients:
        thread.start()
    # when the cluster restarts under the load
    time.sleep(1.0)
    restart_began = time.monotonic()
    site.cluster.stop("fast")
    time.sleep(DOWN_SECONDS)
    site.cluster.start()
    restart_seconds = time.monotonic() - restart_began
    for thread in clients[READERS:]:
        thread.join(timeout=300)
    time.sleep(2.0)  # the readers see the site recovered
    stop_reading.set()
    for thread in clients[:READERS]:
        thread.join(timeout=60)

    # then nobody saw a 500 (or no answer at all): 200, or 503 with Retry-After in the API's format
    posts = [answer for answers in sends.values() for answer in answers]
    everything = reads + posts
    assert {a.status for a in reads} <= {200, 503}, [a.body for a in reads if a.status >= 500]
    assert {a.status for a in posts} <= {201, 503}, [(a.status, a.body) for a in posts]
    unavailable = [a for a in everything if a.status == 503]
    assert {a.code for a in unavailable} <= {"database_unavailable", "database_busy"}
    assert all(a.retry_after for a in unavailable)
    # the site recovered by itself
    assert all(a.status == 200 for a in reads[-READERS * len(paths) :])
    # and each key booked exactly once, its resends answered with the same booking
    assert len(sends) == BOOKERS * BOOKINGS_EACH
    for key, answers in sends.items():
        assert answers[-1].status == 201, (key, [(a.status, a.body) for a in answers])
        assert len({a.body["code"] for a in answers if a.status == 201}) == 1
    assert site.sql("SELECT count(*) FROM bookings_booking") == str(BOOKERS * BOOKINGS_EACH)
    assert site.sql("SELECT count(*) FROM api_idempotencyrecord") == str(len(sends))
    assert "WORKER TIMEOUT" not in site.gunicorn.log()

    during = [a for a in everything if a.started >= restart_began - 1]
    report(
        "restart",
        {
            "restart_seconds": round(restart_seconds, 2),
            "reads": len(reads),
            "reads_200": sum(a.status == 200 for a in reads),
            "reads_503": sum(a.status == 503 for a in reads),
            "reads_run_again_by_the_server": site.gunicorn.log().count("running /api"),
            "booking_keys": len(sends),
            "booking_posts": len(posts),
            "booking_posts_503": sum(a.status == 503 for a in posts),
            "bookings_made": BOOKERS * BOOKINGS_EACH,
            "server_errors_500": sum(a.status == 500 for a in everything),
            "answer_seconds_p95_from_the_restart": round(p95([a.seconds for a in during]), 3),
            "answer_seconds_max": round(max(a.seconds for a in everything), 2),
            "last_503_after_restart_began_seconds": round(
                max((a.started + a.seconds - restart_began for a in unavailable), default=0), 2
            ),
        },
    )
