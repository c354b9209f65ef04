"""The floor of `make bench`: bare Django doing the least each measured path can do.

A whole project in one module (settings, URLs, views, the WSGI application), run under the same
gunicorn settings as the platform. No middleware, no apps, no templates:

- GET  /cached/<name>  one Redis GET through Django's cache, returned as JSON (the floor of
                every cached read). The value is the platform's own answer to that read
                (BENCH_FLOOR_DIR/<name>.json, saved by the runner), so both send the same bytes;
- POST /book    one booking row and its occupancy in one transaction, the occupancy under the
                same exclusion constraint as the platform's (occupancy_range ... WITH &&), on
                the first of the bays that is free (the floor of booking creation).

Its tables are created by tests/benchmark/run.py in the benchmark database.
"""

import json
import os
from pathlib import Path

import environ
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

env = environ.Env()

# --- Settings ------------------------------------------------------------------------------------
DEBUG = False
SECRET_KEY = "bench-floor"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = __name__
MIDDLEWARE: list[str] = []
INSTALLED_APPS: list[str] = []
USE_TZ = True
DATABASES = {"default": env.db_url("DATABASE_URL") | {"CONN_MAX_AGE": 60}}
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": env("REDIS_URL"),
        "KEY_PREFIX": "floor",
    }
}
ANSWERS = Path(os.environ.get("BENCH_FLOOR_DIR", "."))
BAYS = int(os.environ.get("BENCH_BAYS", "5"))


# --- Views -----------------------------------------------------------------------------------
def cached(request: HttpRequest, name: str) -> HttpResponse:
    value = cache.get(name)
    if value is None:  # the first request of a run stores it
        value = json.loads((ANSWERS / f"{name}.json").read_text())
        cache.set(name, value, None)
    return JsonResponse(value, safe=False)


@csrf_exempt
def book(request: HttpRequest) -> HttpResponse:
    starts_at = json.loads(request.body)["starts_at"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO floor_booking (starts_at, ends_at) VALUES (%s, %s::timestamptz + '1 hour')"
            " RETURNING id",
            [starts_at, starts_at],
        )
        (booking_id,) = cursor.fetchone()
        for bay in range(1, BAYS + 1):
            cursor.execute(
                "INSERT INTO floor_occupancy (resource_id, booking_id, starts_at, ends_at)"
                " VALUES (%s, %s, %s, %s::timestamptz + '1 hour') ON CONFLICT DO NOTHING"
                " RETURNING id",
                [bay, booking_id, starts_at, starts_at],
            )
            if cursor.fetchone() is not None:
                return JsonResponse({"id": booking_id, "bay": bay}, status=201)
        transaction.set_rollback(True)
    return JsonResponse({"detail": "taken"}, status=409)


urlpatterns = [path("cached/<slug:name>", cached), path("book", book)]

os.environ.setdefault("DJANGO_SETTINGS_MODULE", __name__)
application = get_wsgi_application()
