"""Whole answers of the public catalogue, kept under the generations they were computed at.

The hottest reads (an organization, its services and locations, a service's free slots) are
asked for anonymously, again and again, and change only when PostgreSQL's generations move
(bookings.availability_cache). So a view declares `cached_answer` and its 200 answers to an
anonymous GET are kept whole (status, headers, body) under a key naming the URL and the
generations read before the view ran, in the shared cache and in the process that computed or
last fetched it. The next such request is served by `CachedAnswerMiddleware` before it reaches
sessions, authentication and DRF, in one SQL statement (the organization by slug with its
generations) and one or two Redis round trips (the throttles' count; the answer, unless this
process holds it): what Django's own cache middleware does, with freshness from the
generations instead of a timeout.

What still holds on that path:
- the tenant wall: an answer is only ever one the whole stack gave for that organization's URL
  (the key holds the organization's id and the path); nothing is read from a tenant's tables;
- the throttles: the request is counted in the view's own windows (DRF's keys and rates,
  config.api.throttling) before anything is served; a refused one goes on to DRF, which answers
  429 from that count without counting it again;
- freshness: a change commits with its generation bump, so the key read after it is new. An
  answer that also depends on the clock (free slots leave as their notice begins) carries the
  instant it stops being true (`answer_expires` on the response) and is not served after it.

Anything else (a signed-in or cookie-carrying client, another Accept, a query that does not
parse, Redis down) goes through the whole stack as before.
"""

import hashlib
import time
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace

from django.contrib.auth.models import AnonymousUser
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from accounts.tenancy import ORGANIZATION_URL_KWARG
from bookings.api.serializers import MAX_DAYS_PER_REQUEST
from bookings.availability_cache import cache
from bookings.metrics import ANSWER_CACHE
from bookings.selectors import days_between
from config.api.throttling import count_ahead_of_drf

# An hour, as the days' values: correctness comes from the generations, not from expiry.
ANSWER_TIMEOUT = 60 * 60
# What a client that takes JSON sends; anything else is DRF's content negotiation to decide.
JSON_ACCEPTS = frozenset({None, "*/*", "application/json"})
# Answers each process keeps in front of the shared cache (an availability week is ~25 KB).
KEPT_IN_PROCESS = 400

_ORGANIZATION = """
SELECT o.id, NULL::date, COALESCE(g.generation, 0)
FROM accounts_organization o
LEFT JOIN bookings_referencegeneration g ON g.organization_id = o.id
WHERE o.slug = %s
"""
_DAYS = """
UNION ALL
SELECT NULL, day, generation FROM bookings_daygeneration
WHERE location_id = %s AND day BETWEEN %s AND %s
"""


class ReferenceAnswer:
    """An answer that depends on the organization's reference data alone."""

    def days(self, query) -> tuple[int, date, date] | None:
        """The location and local days the answer also depends on, if any."""
        return None


class AvailabilityAnswer(ReferenceAnswer):
    """Free slots: also the occupancy of the asked days at the asked location."""

    def days(self, query) -> tuple[int, date, date] | None:
        location, first, last = query.get("location"), query.get("date_from"), query.get("date_to")
        if not (location and location.isdigit() and len(location) < 19):
            raise Unkeyable
        try:
            first, last = date.fromisoformat(first or ""), date.fromisoformat(last or "")
        except ValueError:
            raise Unkeyable from None
        if not 0 <= (last - first).days < MAX_DAYS_PER_REQUEST:  # longer: the view's 400
            raise Unkeyable
        return int(location), first, last


class Unkeyable(Exception):
    """The request names no answer this cache can key: the view answers it (maybe a 400)."""


@dataclass(frozen=True)
class Stored:
    """A kept answer: until when it holds (epoch seconds, None: while the key does), the rest
    of an HttpResponse."""

    expires: float | None
    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes


# The answers this process served last, in front of the shared cache: their keys carry the
# generations, so a copy here is exactly as fresh as the shared one, and a hit spares a round trip.
_kept_here = LocMemCache("kept-answers", {"OPTIONS": {"MAX_ENTRIES": KEPT_IN_PROCESS}})


def forget_all() -> None:
    """Drop this process's copies (tests that roll their data back; the shared ones go with
    the cache's clear)."""
    _kept_here.clear()


class CachedAnswerMiddleware:
    """Serves a kept answer before the stack runs, and keeps the stack's answers (see above).

    Placed after ConditionalGetMiddleware (a kept answer still gets its ETag and 304) and
    before SessionMiddleware (which the anonymous requests it serves do not need).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        found = self._declared(request)
        if found is None:
            return self.get_response(request)
        match, declared = found
        try:
            key = self._key(request, match, declared)
        except Unkeyable:
            return self.get_response(request)
        if key is None:
            return self.get_response(request)  # no such organization: the stack's 404

        view = match.func.view_class(**match.func.view_initkwargs)
        anonymous = SimpleNamespace(
            user=AnonymousUser(), META=request.META, headers=request.headers
        )
        if not count_ahead_of_drf(request, view, anonymous):
            return self.get_response(request)  # DRF answers 429 from this count, or counts

        stored = _kept_here.get(key)
        if stored is None and (stored := cache.get(key)) is not None:
            _kept_here.set(key, stored, timeout=ANSWER_TIMEOUT)
        if stored is not None and (stored.expires is None or time.time() < stored.expires):
            ANSWER_CACHE.labels("hit").inc()
            return HttpResponse(stored.content, status=stored.status, headers=stored.headers)

        ANSWER_CACHE.labels("miss").inc()
        response = self.get_response(request)
        if _keepable(response):
            expires: datetime | None = getattr(response, "answer_expires", None)
            stored = Stored(
                expires=None if expires is None else expires.timestamp(),
                status=response.status_code,
                headers=tuple(response.items()),
                content=response.content,
            )
            cache.set(key, stored, timeout=ANSWER_TIMEOUT)
            _kept_here.set(key, stored, timeout=ANSWER_TIMEOUT)
        return response

    @staticmethod
    def _declared(request: HttpRequest):
        """The URL's match and its view's `cached_answer`, for an anonymous JSON GET."""
        if (
            request.method != "GET"
            or request.COOKIES
            or "HTTP_AUTHORIZATION" in request.META
            or request.META.get("HTTP_ACCEPT") not in JSON_ACCEPTS
        ):
            return None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
        declared = getattr(getattr(match.func, "view_class", None), "cached_answer", None)
        if declared is None or ORGANIZATION_URL_KWARG not in match.kwargs:
            return None
        return match, declared

    @staticmethod
    def _key(request: HttpRequest, match, declared: ReferenceAnswer) -> str | None:
        """The answer's key: the organization, the URL, the generations read now (one query);
        None if no organization has the URL's slug."""
        days = declared.days(request.GET)
        sql, parameters = _ORGANIZATION, [match.kwargs[ORGANIZATION_URL_KWARG]]
        if days is not None:
            sql, parameters = sql + _DAYS, [*parameters, *days]
        with connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            rows = cursor.fetchall()
        organization = next((row for row in rows if row[0] is not None), None)
        if organization is None:
            return None
        organization_id, _, reference = organization
        generations = [str(reference)]
        if days is not None:
            by_day = {day: generation for _, day, generation in rows if day is not None}
            generations += [str(by_day.get(day, 0)) for day in days_between(days[1], days[2])]
        named = f"{request.build_absolute_uri()}|{'.'.join(generations)}".encode()
        return f"answer:{organization_id}:{hashlib.md5(named, usedforsecurity=False).hexdigest()}"


def _keepable(response: HttpResponse) -> bool:
    """A plain 200 that sets no cookie and may be shared (Django's cache middleware's rules)."""
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and "private" not in response.get("Cache-Control", "")
    )
