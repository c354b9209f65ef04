"""The engine's admin inside the tenant wall: roles, locations, a staff member's own schedule."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from bookings.models import Booking, BookingStatus, Maintenance
from tests.scenarios import EIGHT, Engine


@pytest.fixture
def engines(tenant_a, tenant_b):
    return Engine(tenant_a), Engine(tenant_b)


# (url name, which object) -> expected status for (owner, manager, staff) of organization A.
MATRIX = {
    ("fleet_resource_changelist", None): (200, 200, 200),
    ("fleet_resource_change", "bay"): (200, 200, 200),
    ("fleet_resource_change", "bay_elsewhere"): (200, 404, 404),
    ("fleet_resource_change", "other:bay"): (404, 404, 404),
    ("fleet_resource_add", None): (200, 200, 403),
    ("bookings_service_change", "service"): (200, 200, 200),
    ("bookings_service_change", "other:service"): (404, 404, 404),
    ("bookings_service_add", None): (200, 403, 403),
    ("bookings_booking_changelist", None): (200, 200, 200),
    ("bookings_booking_change", "own_booking"): (200, 200, 200),
    ("bookings_booking_change", "bay_booking"): (200, 200, 404),
    ("bookings_booking_change", "far_booking"): (200, 404, 404),
    ("bookings_booking_change", "other:own_booking"): (404, 404, 404),
    # Every staff role books at the desk; "Add booking" leads to the desk's form.
    ("bookings_booking_add", None): (302, 302, 302),
    ("bookings_openinghours_changelist", None): (200, 200, 200),
    ("bookings_closure_add", None): (200, 200, 403),
    # Staff see (and add) their own blocked time.
    ("bookings_maintenance_changelist", None): (200, 200, 200),
}
ROLES = ("owner", "manager", "staff")


@pytest.mark.parametrize(
    ("url_name", "target", "role", "expected"),
    [
        pytest.param(url_name, target, role, statuses[i], id=f"{url_name}-{target}-{role}")
        for (url_name, target), statuses in MATRIX.items()
        for i, role in enumerate(ROLES)
    ],
)
def test_engine_admin_permission_matrix(
    url_name, target, role, expected, tenant_a, engines, client_for
):
    args = []
    if target:
        engine = engines[1] if target.startswith("other:") else engines[0]
        args = [getattr(engine, target.removeprefix("other:")).pk]
    response = client_for(tenant_a.user(role)).get(reverse(f"admin:{url_name}", args=args))
    assert response.status_code == expected


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("owner", {"own_booking", "bay_booking", "far_booking"}),
        ("manager", {"own_booking", "bay_booking"}),
        ("staff", {"own_booking"}),  # a staff member's own schedule only
    ],
)
def test_booking_list_shows_each_role_its_bookings(role, visible, tenant_a, engines, client_for):
    response = client_for(tenant_a.user(role)).get(reverse("admin:bookings_booking_changelist"))
    listed = set(response.context["cl"].result_list)
    assert listed == {getattr(engines[0], name) for name in visible}


def act(client, action: str, *bookings):
    return client.post(
        reverse("admin:bookings_booking_changelist"),
        {"action": action, "_selected_action": [b.pk for b in bookings]},
    )


def test_lifecycle_actions_go_through_the_services_and_the_timeline(tenant_a, engines, client_for):
    client = client_for(tenant_a.manager)
    act(client, "booking_confirm", engines[0].bay_booking)
    act(client, "booking_cancel", engines[0].bay_booking)
    with scopes_disabled():
        booking = Booking.objects.get(pk=engines[0].bay_booking.pk)
        assert booking.status == BookingStatus.CANCELLED
        assert [(e.kind, e.actor) for e in booking.events.all()][1:] == [
            ("confirmed", tenant_a.manager),
            ("cancelled", tenant_a.manager),
        ]


def test_an_illegal_action_is_reported_and_changes_nothing(tenant_a, engines, client_for):
    response = act(client_for(tenant_a.owner), "booking_complete", engines[0].bay_booking)
    assert response.status_code == 302
    with scopes_disabled():
        assert Booking.objects.get(pk=engines[0].bay_booking.pk).status == BookingStatus.PENDING


def test_staff_cannot_act_on_bookings_outside_their_schedule(
    tenant_a, tenant_b, engines, client_for
):
    client = client_for(tenant_a.staff)
    act(
        client,
        "booking_confirm",
        engines[0].own_booking,
        engines[0].bay_booking,
        engines[1].own_booking,
    )
    with scopes_disabled():
        statuses = {b.pk: b.status for b in Booking.objects.all()}
    assert statuses[engines[0].own_booking.pk] == BookingStatus.CONFIRMED
    assert statuses[engines[0].bay_booking.pk] == BookingStatus.PENDING
    assert statuses[engines[1].own_booking.pk] == BookingStatus.PENDING


def test_maintenance_over_a_booking_is_refused_in_the_admin(tenant_a, engines, client_for):
    response = client_for(tenant_a.manager).post(
        reverse("admin:bookings_maintenance_add"),
        {
            "organization": tenant_a.organization.pk,
            "resource": engines[0].bay.pk,
            "starts_at_0": "2030-01-07",
            "starts_at_1": "07:00:00",
            "ends_at_0": "2030-01-07",
            "ends_at_1": "12:00:00",
            "reason": "Brushes",
        },
    )
    assert response.status_code == 200
    assert "is booked during this period" in str(response.context["adminform"].form.errors)
    with scopes_disabled():
        assert not Maintenance.objects.exists()


def test_a_row_cannot_point_into_another_organization(tenant_a, tenant_b, engines, client_for):
    # An owner of two organizations picks A as the organization but a location of B.
    from tests.factories import MembershipFactory

    MembershipFactory(organization=tenant_b.organization, user=tenant_a.owner, role="owner")
    response = client_for(tenant_a.owner).post(
        reverse("admin:fleet_resource_add"),
        {
            "organization": tenant_a.organization.pk,
            "location": tenant_b.location.pk,
            "kind": "bay",
            "name": "Crossed",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "another organization" in str(response.context["adminform"].form.errors)


def test_the_booking_page_shows_the_timeline_in_local_time(tenant_a, engines, client_for):
    response = client_for(tenant_a.owner).get(reverse("admin:bookings_booking_changelist"))
    # 08:00 UTC is 10:00 in Helsinki in January.
    assert "2030-01-07 10:00" in response.content.decode()
    detail = client_for(tenant_a.owner).get(
        reverse("admin:bookings_booking_change", args=[engines[0].bay_booking.pk])
    )
    assert "created" in detail.content.decode()
    assert EIGHT + timedelta(hours=1) == engines[0].bay_booking.ends_at
