"""Every endpoint x every role x own organization / another organization.

The user is always a member (or customer) of Alpha. "own" calls Alpha's URLs with Alpha's
objects, "other" calls Bravo's. Besides the status, no body may carry another tenant's data.
"""

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from tests.scenarios import SLOT, ApiTenant

ROLES = ["anonymous", "customer", "staff", "manager", "owner"]
BOOKING_BODY = {"starts_at": SLOT}


def org(t: ApiTenant) -> str:
    return f"/api/v1/organizations/{t.organization.slug}/"


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: Callable[[ApiTenant], str]
    own: dict[str, int]
    other: dict[str, int]
    body: Callable[[ApiTenant], dict] | None = None


def everyone(status: int, anonymous: int | None = None) -> dict[str, int]:
    return dict.fromkeys(ROLES, status) | {"anonymous": anonymous or status}


def roles(*, customer: int, staff: int, manager: int, owner: int) -> dict[str, int]:
    return {
        "anonymous": 401,
        "customer": customer,
        "staff": staff,
        "manager": manager,
        "owner": owner,
    }


NOT_A_MEMBER = roles(customer=403, staff=403, manager=403, owner=403)
ALL_MEMBERS = roles(customer=403, staff=200, manager=200, owner=200)
OWNER_ONLY_404 = roles(customer=403, staff=404, manager=404, owner=200)
CUSTOMER_ONLY = roles(customer=200, staff=404, manager=404, owner=404)
SIGNED_IN = everyone(200, anonymous=401)

ENDPOINTS = [
    # The public catalogue: anyone, any organization.
    Endpoint("organization", "get", org, everyone(200), everyone(200)),
    Endpoint("locations", "get", lambda t: f"{org(t)}locations/", everyone(200), everyone(200)),
    Endpoint("services", "get", lambda t: f"{org(t)}services/", everyone(200), everyone(200)),
    Endpoint(
        "service",
        "get",
        lambda t: f"{org(t)}services/{t.service.pk}/",
        everyone(200),
        everyone(200),
    ),
    Endpoint(
        "service availability",
        "get",
        lambda t: (
            f"{org(t)}services/{t.service.pk}/availability/"
            f"?location={t.location.pk}&date_from=2030-01-07&date_to=2030-01-08"
        ),
        everyone(200),
        everyone(200),
    ),
    Endpoint("cars", "get", lambda t: f"{org(t)}cars/", everyone(200), everyone(200)),
    Endpoint("car", "get", lambda t: f"{org(t)}cars/{t.car.pk}/", everyone(200), everyone(200)),
    Endpoint(
        "car availability",
        "get",
        lambda t: f"{org(t)}cars/{t.car.pk}/availability/?date_from=2030-01-07&date_to=2030-01-09",
        everyone(200),
        everyone(200),
    ),
    Endpoint(
        "car reviews",
        "get",
        lambda t: f"{org(t)}cars/{t.car.pk}/reviews/",
        everyone(200),
        everyone(200),
    ),
    # Booking: any signed-in person, at any organization.
    Endpoint(
        "booking create",
        "post",
        lambda t: f"{org(t)}bookings/",
        everyone(201, anonymous=401),
        everyone(201, anonymous=401),
        lambda t: {"service": t.service.pk, "location": t.location.pk, **BOOKING_BODY},
    ),
    # Staff, by role: the staff member's own schedule, the manager's location, the owner all.
    Endpoint(
        "schedule of the main location",
        "get",
        lambda t: f"{org(t)}staff/schedule/?date=2030-01-07&location={t.location.pk}",
        ALL_MEMBERS,
        NOT_A_MEMBER,
    ),
    Endpoint(
        "schedule of the annex",
        "get",
        lambda t: f"{org(t)}staff/schedule/?date=2030-01-07&location={t.other_location.pk}",
        OWNER_ONLY_404,
        NOT_A_MEMBER,
    ),
    Endpoint(
        "schedule of the staff member's time",
        "get",
        lambda t: f"{org(t)}staff/schedule/?date=2030-01-07&days=7&resource={t.staff_time.pk}",
        ALL_MEMBERS,
        NOT_A_MEMBER,
    ),
    Endpoint(
        "staff booking on the staff member's time",
        "get",
        lambda t: f"{org(t)}staff/bookings/{t.booking.code}/",
        ALL_MEMBERS,
        NOT_A_MEMBER,
    ),
    Endpoint(
        "staff booking at the annex",
        "get",
        lambda t: f"{org(t)}staff/bookings/{t.other_booking.code}/",
        OWNER_ONLY_404,
        NOT_A_MEMBER,
    ),
    Endpoint(
        "confirm on the staff member's time",
        "post",
        lambda t: f"{org(t)}staff/bookings/{t.booking.code}/confirm/",
        ALL_MEMBERS,
        NOT_A_MEMBER,
        lambda t: {"version": 1},
    ),
    Endpoint(
        "cancel at the annex",
        "post",
        lambda t: f"{org(t)}staff/bookings/{t.other_booking.code}/cancel/",
        OWNER_ONLY_404,
        NOT_A_MEMBER,
        lambda t: {"version": 1, "reason": "Bay flooded"},
    ),
    Endpoint(
        "customer lookup",
        "get",
        lambda t: f"{org(t)}staff/customers/?search=customer",
        ALL_MEMBERS,
        NOT_A_MEMBER,
    ),
    # The signed-in user's own things. Bravo's bookings belong to Bravo's customer.
    Endpoint("me", "get", lambda t: "/api/v1/me/", SIGNED_IN, SIGNED_IN),
    Endpoint("tokens", "get", lambda t: "/api/v1/auth/tokens/", SIGNED_IN, SIGNED_IN),
    Endpoint("my bookings", "get", lambda t: "/api/v1/me/bookings/", SIGNED_IN, SIGNED_IN),
    Endpoint(
        "my booking",
        "get",
        lambda t: f"/api/v1/me/bookings/{t.booking.code}/",
        CUSTOMER_ONLY,
        roles(customer=404, staff=404, manager=404, owner=404),
    ),
    Endpoint(
        "my booking cancel",
        "post",
        lambda t: f"/api/v1/me/bookings/{t.booking.code}/cancel/",
        CUSTOMER_ONLY,
        roles(customer=404, staff=404, manager=404, owner=404),
        lambda t: {"version": 1},
    ),
    Endpoint(
        "my booking reschedule",
        "post",
        lambda t: f"/api/v1/me/bookings/{t.booking.code}/reschedule/",
        CUSTOMER_ONLY,
        roles(customer=404, staff=404, manager=404, owner=404),
        lambda t: {"version": 1, **BOOKING_BODY},
    ),
]


def private_markers(t: ApiTenant) -> list[str]:
    """What only the tenant's staff and the booking's customer may ever read."""
    return [
        t.customer.email,
        t.booking.code,
        t.other_booking.code,
        t.staff.email,
        t.manager.email,
        t.owner.email,
    ]


@pytest.mark.parametrize("where", ["own", "other"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_permission_matrix(alpha, bravo, api, endpoint: Endpoint, role: str, where: str):
    target = alpha if where == "own" else bravo
    user = None if role == "anonymous" else alpha.user(role)
    client = api(user)

    body = endpoint.body(target) if endpoint.body else None
    response = getattr(client, endpoint.method)(endpoint.path(target), body, format="json")

    assert response.status_code == getattr(endpoint, where)[role], response.content
    content = response.content.decode()
    for marker in private_markers(bravo):
        assert marker not in content
    if where == "own":
        assert bravo.organization.slug not in content
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}


OBJECT_PATHS = {
    "service": lambda t: f"services/{t.service.pk}/",
    "service availability": lambda t: (
        f"services/{t.service.pk}/availability/"
        f"?location={t.location.pk}&date_from=2030-01-07&date_to=2030-01-07"
    ),
    "car": lambda t: f"cars/{t.car.pk}/",
    "car availability": lambda t: (
        f"cars/{t.car.pk}/availability/?date_from=2030-01-07&date_to=2030-01-07"
    ),
    "car reviews": lambda t: f"cars/{t.car.pk}/reviews/",
    "staff booking": lambda t: f"staff/bookings/{t.booking.code}/",
}


@pytest.mark.parametrize("name", OBJECT_PATHS)
def test_another_organizations_object_answers_exactly_like_a_missing_one(alpha, bravo, api, name):
    # given Alpha's owner on Alpha's URLs: one with the ids of Bravo's objects, one with ids
    # that exist nowhere
    client = api(alpha.owner)
    nowhere = SimpleNamespace(
        service=SimpleNamespace(pk=10**9),
        car=SimpleNamespace(pk=10**9),
        booking=SimpleNamespace(code="NOSUCH00"),
        location=alpha.location,
    )

    foreign = client.get(org(alpha) + OBJECT_PATHS[name](bravo))
    missing = client.get(org(alpha) + OBJECT_PATHS[name](nowhere))

    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert foreign.json()["error"]["code"] == "not_found"


def test_a_bravo_service_id_in_an_alpha_booking_is_refused_and_books_nothing(alpha, bravo, api):
    response = api(alpha.customer_user).post(
        "/api/v1/organizations/alpha/bookings/",
        {"service": bravo.service.pk, "location": alpha.location.pk, **BOOKING_BODY},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "service" in response.json()["error"]["details"]
