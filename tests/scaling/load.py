"""The scale test's load: many customers at once through the front door (HAProxy), each a
thread in a closed loop, bounded by a deadline and by `stop()`.

Each customer mixes what customers do: catalogue reads (the replica's reads), page views,
availability reads, and bookings of a random slot. Right after each booking made, the customer
reads its own bookings list: a booking missing from it is a read-your-writes violation.

Every answer is a `Sample`; an error is a 5xx, a refused or broken connection, a timeout, or an
answer the script did not expect (a 409 to a booking is expected: someone took the slot).
"""

import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

REQUEST_TIMEOUT = 30.0
# Share of each kind of request in a customer's loop.
MIX = {"catalogue": 35, "page": 20, "availability": 30, "booking": 15}
THINK_SECONDS = 0.02  # at most, between two requests of one customer


@dataclass(frozen=True)
class Sample:
    kind: str
    status: int  # 0: no HTTP answer at all
    seconds: float
    at: float  # time.monotonic() when the answer came
    error: bool
    detail: str = ""  # the start of an error's answer


@dataclass
class Catalogue:
    """What the load books: one service at one location, open 9-17 (tests.private_world)."""

    organization: str
    service: int
    location: int
    time_zone: str = "Europe/Helsinki"
    first_day: int = 2  # days ahead: past the customers' cut-off
    days: int = 58  # within the service's 90 days of advance booking
    hours: range = range(9, 17)


@dataclass
class Load:
    base_url: str
    tokens: list[str]
    catalogue: Catalogue
    deadline_seconds: float = 300.0
    samples: list[Sample] = field(default_factory=list)
    booked: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._deadline = time.monotonic() + self.deadline_seconds
        self._threads = [
            threading.Thread(target=self._customer, args=(token, seed), daemon=True)
            for seed, token in enumerate(self.tokens)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        if any(thread.is_alive() for thread in self._threads):
            raise RuntimeError("a load thread did not stop")

    def between(self, start: float, end: float) -> list[Sample]:
        with self._lock:
            return [sample for sample in self.samples if start <= sample.at < end]

    # --- One customer --------------------------------------------------------------------------

    def _customer(self, token: str, seed: int) -> None:
        chance = random.Random(seed)
        kinds, weights = zip(*MIX.items(), strict=True)
        api = f"/api/v1/organizations/{self.catalogue.organization}"
        while not self._stopping.is_set() and time.monotonic() < self._deadline:
            kind = chance.choices(kinds, weights)[0]
            if kind == "catalogue":
                # A service's page: a replica's read (the lists come from the process's
                # reference data, bookings.reference_cache).
                self._call(kind, f"{api}/services/{self.catalogue.service}/", expect={200})
            elif kind == "page":
                self._call(kind, f"/{self.catalogue.organization}/", expect={200}, parse=False)
            elif kind == "availability":
                day = self._day(chance)
                self._call(
                    kind,
                    f"{api}/services/{self.catalogue.service}/availability/"
                    f"?location={self.catalogue.location}&date_from={day}&date_to={day}",
                    expect={200},
                )
            else:
                self._book(token, chance, api)
            time.sleep(chance.uniform(0, THINK_SECONDS))

    def _book(self, token: str, chance: random.Random, api: str) -> None:
        day = self._day(chance)
        hour = chance.choice(self.catalogue.hours)
        starts_at = datetime.combine(day, datetime.min.time().replace(hour=hour),
                                     tzinfo=ZoneInfo(self.catalogue.time_zone))  # fmt: skip
        status, body = self._call(
            "booking",
            f"{api}/bookings/",
            token=token,
            body={"service": self.catalogue.service, "location": self.catalogue.location,
                  "starts_at": starts_at.isoformat()},
            expect={201, 409},
        )  # fmt: skip
        if status != 201:
            return
        code = body["code"]
        with self._lock:
            self.booked.append(code)
        status, mine = self._call(
            "my-bookings", "/api/v1/me/bookings/?page_size=100", token=token, expect={200}
        )
        if status == 200 and code not in {booking["code"] for booking in mine["results"]}:
            with self._lock:
                self.violations.append(code)

    def _day(self, chance: random.Random) -> date:
        today = datetime.now(ZoneInfo(self.catalogue.time_zone)).date()
        ahead = self.catalogue.first_day + chance.randrange(self.catalogue.days)
        return today + timedelta(days=ahead)

    def _call(self, kind: str, path: str, *, expect: set[int], token: str | None = None,
              body: dict | None = None, parse: bool = True) -> tuple[int, object]:  # fmt: skip
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Idempotency-Key"] = uuid.uuid4().hex  # a retried POST books once
        request = urllib.request.Request(
            self.base_url + path,
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
            method="GET" if body is None else "POST",
        )
        started = time.monotonic()
        status, answer = 0, None
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                status, raw = response.status, response.read()
            answer = json.loads(raw) if parse else raw
        except urllib.error.HTTPError as refused:
            status, answer = refused.code, refused.read()[:300]
        except (OSError, ValueError) as broken:  # refused, reset, timed out, half an answer
            answer = repr(broken)
        ended = time.monotonic()
        error = status not in expect
        detail = str(answer)[:160] if error else ""
        sample = Sample(kind, status, ended - started, ended, error=error, detail=detail)
        with self._lock:
            self.samples.append(sample)
        return status, answer


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of them lie (nearest rank); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass(frozen=True)
class Figures:
    requests: int
    seconds: float
    errors: int
    p95_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @classmethod
    def of(cls, samples: list[Sample], seconds: float) -> "Figures":
        return cls(
            requests=len(samples),
            seconds=seconds,
            errors=sum(sample.error for sample in samples),
            p95_ms=1000 * percentile([sample.seconds for sample in samples], 0.95),
        )
