"""Hostile input never reaches a 5xx nor writes a row: every operation of the live API schema and
every booking page that takes a POST gets a fixed battery of bad bodies, query strings, path
segments and headers (wrong types, huge sizes, bad encodings, deep nesting, control characters,
NUL, lone surrogates).

The battery is fixed, not random, so it runs in a few seconds and a failure replays exactly;
tests/api/test_schema_conformance.py explores the schema at random besides.
"""

import json
import re
from datetime import date
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import URLPattern, reverse
from django_scopes import scopes_disabled
from knox.models import AuthToken

from accounts.models import Customer, User
from bookings.manage_links import manage_token
from bookings.models import Booking, BookingEvent, CarReview, Occupancy, OutboxEmail, Payment
from bookings.pages import urls as page_urls
from config.api.models import IdempotencyRecord
from tests.scenarios import SLOT, ApiTenant

NUL, SURROGATE = "\x00", "\ud800"

# Strings each field of a body, query or form receives in turn.
HOSTILE_TEXT = [
    NUL,
    f"a{NUL}b",
    SURROGATE,
    "\udfff x",
    "\x01\x07\x1b[31m\x7f",
    "x" * 100_000,
    " 1 ",
    "1.5",
    "-1",
    "99999999999999999999999",
    "NaN",
    "\u202e\ufeff",
    "1e400",
]
# JSON values a body's fields receive (text goes through HOSTILE_TEXT).
HOSTILE_VALUES = [1.5, True, None, -1, 0, 2**64, 1e308, [], {}, [1, 2], {"a": NUL}]

DEPTH = 100_000
# Whole bodies, as bytes, with their content type.
RAW_BODIES = [
    (b"[" * DEPTH + b"]" * DEPTH, "application/json"),
    (b'{"a":' * DEPTH + b"1" + b"}" * DEPTH, "application/json"),
    (b"[" * 40 + b"1" + b"]" * 40, "application/json"),  # just past the depth limit
    (b'{"email": "\\ud800", "password": "\\udfff"}', "application/json"),
    (b'{"service": "\\u0000", "notes": "a\\u0000b"}', "application/json"),
    (b'{"\\u0000": 1}', "application/json"),
    (b"\xff\xfe\x00{", "application/json"),
    (b'{"a": NaN, "b": Infinity}', "application/json"),
    (b'{"a": 1e99999}', "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b'"just a string"', "application/json"),
    (b"{" + b'"k": "' + b"x" * 1_100_000 + b'"}', "application/json"),
    (b"a=%00&b=%ED%A0%80&service=1.5", "application/x-www-form-urlencoded"),
    (
        b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n\x00\r\n',
        "multipart/form-data; boundary=x",
    ),
    (b"<xml/>", "application/xml"),
]
HOSTILE_HEADERS = [
    {"HTTP_IDEMPOTENCY_KEY": ""},
    {"HTTP_IDEMPOTENCY_KEY": NUL},
    {"HTTP_IDEMPOTENCY_KEY": "k" * 300},
    {"HTTP_IDEMPOTENCY_KEY": "caf\u00e9\n"},
    {"HTTP_AUTHORIZATION": f"Bearer {NUL}"},
    {"HTTP_AUTHORIZATION": "Bearer " + "x" * 10_000},
    {"HTTP_AUTHORIZATION": "Bearer \u00ff\u00fe"},
    {"HTTP_ACCEPT_LANGUAGE": NUL},
    {"HTTP_COOKIE": f"sessionid=a{NUL}b"},
]
# Path segments put where the schema has a parameter (the organization's slug stays valid).
HOSTILE_SEGMENTS = ["%00", "a%00b", "%ED%A0%80", "1.5", "%20%201", "9" * 30, "x" * 5000, "%FF"]
STATES = (
    Booking,
    BookingEvent,
    Occupancy,
    Customer,
    User,
    IdempotencyRecord,
    CarReview,
    OutboxEmail,
    Payment,
)


def rows() -> dict[str, int]:
    with scopes_disabled():
        return {model.__name__: model._base_manager.count() for model in STATES}


def _bodies(fields: list[str]) -> list[tuple[bytes, str]]:
    """Each field of the operation's body with each hostile text and value, the others valid."""
    valid = {"service": 1, "location": 1, "starts_at": SLOT, "version": 1, "rating": 5}
    bodies = list(RAW_BODIES)
    for value in [*HOSTILE_TEXT, *HOSTILE_VALUES]:
        body = {**valid, **{field: value for field in fields}}
        bodies.append((json.dumps(body).encode("utf-8", "surrogatepass"), "application/json"))
    return bodies


@pytest.fixture
def operations(alpha: ApiTenant) -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path template, body fields, query parameters) of every operation."""
    schema = Client().get("/api/v1/schema/?format=json").json()
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            component = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            found.append((method, path, list(component.get("properties", {})), query))
    assert len(found) > 20  # the whole API, not an empty schema
    return found


def _path(template: str, alpha: ApiTenant, segment: str | None = None) -> str:
    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name == "organization_slug":
            return alpha.organization.slug
        if segment is not None:
            return segment
        known = {"code": alpha.booking.code, "transition": "confirm"}
        return known.get(name, str(alpha.service.pk))

    return re.sub(r"\{(\w+)\}", fill, template)


def test_no_api_operation_answers_5xx_or_writes_a_row_on_hostile_input(alpha, operations):
    owner = Client(raise_request_exception=False)
    _, token = AuthToken.objects.create(user=alpha.owner)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    before, failures, sent = rows(), [], 0

    def send(method: str, path: str, body: bytes = b"", content_type: str = "", **headers):
        nonlocal sent
        sent += 1
        response = owner.generic(
            method.upper(), path, body, content_type or "application/json", **headers
        )
        if response.status_code >= 500:
            failures.append((method, path[:120], body[:80], headers, response.status_code))

    for method, template, fields, query in operations:
        path = _path(template, alpha)
        for segment in HOSTILE_SEGMENTS:
            if "{" in template.replace("{organization_slug}", ""):
                send(method, _path(template, alpha, segment), **auth)
        for text in HOSTILE_TEXT[:7]:
            for name in query:
                send(method, f"{path}?{name}={_quoted(text)}", **auth)
        for headers in HOSTILE_HEADERS:
            send(method, path, b"{}", **{**auth, **headers})
        if method in ("post", "put", "patch"):
            for body, content_type in _bodies(fields):
                send(method, path, body, content_type, **auth)

    assert not failures, failures[:10]
    assert rows() == before
    assert sent > 900


def _quoted(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass")[:2000])


def _page_posts(alpha: ApiTenant) -> list[str]:
    """Every page URL of bookings/pages/urls.py, filled with alpha's rows."""
    with scopes_disabled():
        values = {
            "service_id": alpha.service.pk,
            "location_slug": alpha.location.slug,
            "token": manage_token(alpha.booking),
            "car_id": alpha.car.pk,
            "day": date(2030, 1, 7),
        }
    urls = []
    for pattern in page_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {name: values[name] for name in pattern.pattern.converters}
        urls.append(
            reverse(
                f"pages:{pattern.name}",
                kwargs={"organization_slug": alpha.organization.slug, **kwargs},
            )
        )
    return urls


FORM_FIELDS = [
    "starts_at",
    "ends_at",
    "car",
    "resource",
    "full_name",
    "email",
    "phone",
    "notes",
    "step",
    "submission",
    "version",
    "reason",
    "code",
    "vehicle_type",
    "date",
    "start_date",
    "features",
]


def test_no_page_post_answers_5xx_or_writes_a_row_on_hostile_input(alpha):
    browser = Client(raise_request_exception=False)
    before, failures = rows(), []
    urls = _page_posts(alpha)
    assert len(urls) >= 8
    for url in urls:
        attempts = [(url, {field: text for field in FORM_FIELDS}) for text in HOSTILE_TEXT]
        attempts += [
            (f"{url}?step={_quoted(text)}", {"step": "confirm"}) for text in HOSTILE_TEXT[:5]
        ]
        for target, form in attempts:
            # A lone surrogate cannot be sent as UTF-8 text; its bytes percent-encoded can.
            encoded = "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in form.items())
            response = browser.post(
                target, encoded, content_type="application/x-www-form-urlencoded"
            )
            if response.status_code >= 500:
                failures.append((target[:100], str(form)[:80], response.status_code))
        for body, content_type in RAW_BODIES:
            response = browser.generic("POST", url, body, content_type)
            if response.status_code >= 500:
                failures.append((url, body[:60], response.status_code))
        for segment in HOSTILE_SEGMENTS:
            response = browser.post(url.rstrip("/") + f"/{segment}/", {"step": "confirm"})
            if response.status_code >= 500:
                failures.append((url, segment, response.status_code))
    assert not failures, failures[:10]
    assert rows() == before
