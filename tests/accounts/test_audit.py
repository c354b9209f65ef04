"""The audit trail of staff access to personal data (accounts/audit.py): one entry per access,
with who, from where and when; append-only in PostgreSQL; owners read their organization's,
platform admins everyone's; customers' own doings stay out; no entry carries an email."""

import pytest
from django.db import ProgrammingError, connection, transaction
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import AuditAction, AuditEntry, Customer, Membership, Role
from bookings.models import BookingSource, BookingStatus
from bookings.services import booking_cancel, booking_confirm, booking_create
from tests.factories import (
    BookingFactory,
    CustomerFactory,
    ResourceFactory,
    ServiceFactory,
    open_every_day,
)
from tests.scenarios import LATER_TODAY, MONDAY_10, Shop

ORIGIN = {"REMOTE_ADDR": "198.51.100.7", "HTTP_USER_AGENT": "DeskBrowser/1.0"}
REQUEST_ID = "audit-request-0001"


def entries(**filters) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(**filters).order_by("pk"))


def get(client, url: str):
    return client.get(url, HTTP_X_REQUEST_ID=REQUEST_ID, **ORIGIN)


def assert_origin(entry: AuditEntry, actor) -> None:
    assert entry.actor_id == actor.pk
    assert (entry.address, entry.user_agent, entry.request_id) == (
        "198.51.100.7",
        "DeskBrowser/1.0",
        REQUEST_ID,
    )


@pytest.fixture
def entry_of(tenant_a, tenant_b):
    """One entry in each organization, written as the admin would."""

    def write(tenant):
        with scopes_disabled():
            return AuditEntry.objects.create(
                organization=tenant.organization,
                actor=tenant.owner,
                action=AuditAction.CUSTOMER_VIEWED,
                target_type="accounts.customer",
                target_id=tenant.customer.pk,
            )

    return {"a": write(tenant_a), "b": write(tenant_b)}


# --- What is recorded ----------------------------------------------------------------------------


def test_viewing_a_customer_in_the_admin_writes_one_entry_with_its_origin(tenant_a, client_for):
    response = get(
        client_for(tenant_a.manager),
        reverse("admin:accounts_customer_change", args=[tenant_a.customer.pk]),
    )

    assert response.status_code == 200
    (entry,) = entries()
    assert_origin(entry, tenant_a.manager)
    assert (entry.action, entry.target_type, entry.target_id, entry.organization_id) == (
        AuditAction.CUSTOMER_VIEWED,
        "accounts.customer",
        tenant_a.customer.pk,
        tenant_a.organization.pk,
    )


def test_the_customer_list_records_the_customers_it_showed(tenant_a, client_for):
    other = CustomerFactory(organization=tenant_a.organization)

    response = get(client_for(tenant_a.staff), reverse("admin:accounts_customer_changelist"))

    assert response.status_code == 200
    (entry,) = entries()
    assert_origin(entry, tenant_a.staff)
    assert entry.action == AuditAction.CUSTOMER_LISTED
    assert entry.target_id is None
    assert sorted(entry.details["customer_ids"]) == sorted([tenant_a.customer.pk, other.pk])


def test_a_customer_changed_in_the_admin_records_which_fields_not_their_values(
    tenant_a, client_for
):
    response = client_for(tenant_a.manager).post(
        reverse("admin:accounts_customer_change", args=[tenant_a.customer.pk]),
        {
            "full_name": "Renamed",
            "email": "new.address@alpha.example",
            "phone": str(tenant_a.customer.phone),
        },
        **ORIGIN,
    )

    assert response.status_code == 302
    (entry,) = entries()
    assert entry.action == AuditAction.CUSTOMER_CHANGED
    assert entry.details == {"fields": ["full_name", "email"]}


def test_deleting_customers_records_each_before_it_goes(tenant_a, client_for):
    second = CustomerFactory(organization=tenant_a.organization)
    owner = client_for(tenant_a.owner)

    response = owner.post(
        reverse("admin:accounts_customer_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [tenant_a.customer.pk, second.pk],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    with scopes_disabled():
        assert not Customer.objects.filter(pk__in=[tenant_a.customer.pk, second.pk]).exists()
    deleted = entries(action=AuditAction.CUSTOMER_DELETED)
    assert sorted(e.target_id for e in deleted) == sorted([tenant_a.customer.pk, second.pk])


def test_the_desk_history_of_a_customer_is_recorded(tenant_a, client_for):
    response = get(
        client_for(tenant_a.staff),
        reverse("admin:workspace_customer", args=[tenant_a.customer.pk]),
    )

    assert response.status_code == 200
    (entry,) = entries()
    assert_origin(entry, tenant_a.staff)
    assert (entry.action, entry.target_id) == (
        AuditAction.CUSTOMER_HISTORY_VIEWED,
        tenant_a.customer.pk,
    )


def test_a_bookings_page_in_the_admin_records_its_customer_as_viewed(tenant_a, client_for):
    booking = BookingFactory(
        resource=ResourceFactory(location=tenant_a.location), customer=tenant_a.customer
    )

    response = get(
        client_for(tenant_a.manager), reverse("admin:bookings_booking_change", args=[booking.pk])
    )

    assert response.status_code == 200
    (entry,) = entries()
    assert_origin(entry, tenant_a.manager)
    assert (entry.action, entry.target_id, entry.details) == (
        AuditAction.CUSTOMER_VIEWED,
        tenant_a.customer.pk,
        {"booking": booking.code},
    )


def test_a_role_change_records_the_role_before_and_after(tenant_a, client_for):
    membership = tenant_a.manager_membership

    response = client_for(tenant_a.owner).post(
        reverse("admin:accounts_membership_change", args=[membership.pk]),
        {"role": Role.STAFF, "limited_to_locations": "on", "locations": [tenant_a.location.pk]},
        **ORIGIN,
    )

    assert response.status_code == 302
    (entry,) = entries()
    assert (entry.action, entry.target_type, entry.target_id) == (
        AuditAction.MEMBERSHIP_CHANGED,
        "accounts.membership",
        membership.pk,
    )
    assert entry.details["previous_role"] == Role.MANAGER
    assert entry.details["role"] == Role.STAFF
    assert entry.details["user_id"] == tenant_a.manager.pk


def test_adding_and_removing_a_member_are_recorded(tenant_a, client_for):
    owner = client_for(tenant_a.owner)

    owner.post(
        reverse("admin:accounts_membership_add"),
        {
            "organization": tenant_a.organization.pk,
            "email": "new.barber@example.com",
            "role": "staff",
        },
    )
    with scopes_disabled():
        added = Membership.objects.get(user__email="new.barber@example.com")
    owner.post(reverse("admin:accounts_membership_delete", args=[added.pk]), {"post": "yes"})

    assert [(e.action, e.target_id) for e in entries()] == [
        (AuditAction.MEMBERSHIP_ADDED, added.pk),
        (AuditAction.MEMBERSHIP_REMOVED, added.pk),
    ]
    with scopes_disabled():
        assert not Membership.objects.filter(pk=added.pk).exists()


def test_a_booking_changed_by_staff_points_at_its_timeline_event(tenant_a):
    open_every_day(tenant_a.location)
    bay = ResourceFactory(location=tenant_a.location)
    service = ServiceFactory(organization=tenant_a.organization, resources=[bay])
    with scopes_disabled():
        booking = booking_create(
            actor=tenant_a.staff,
            source=BookingSource.STAFF,
            service=service,
            customer=tenant_a.customer,
            location=tenant_a.location,
            starts_at=MONDAY_10,
        )
        booking_cancel(actor=tenant_a.manager, booking=booking, expected_version=booking.version)
        events = list(booking.events.order_by("pk"))

    assert [(e.action, e.actor_id, e.details["event"]) for e in entries()] == [
        (AuditAction.BOOKING_CHANGED, tenant_a.staff.pk, "created"),
        (AuditAction.BOOKING_CHANGED, tenant_a.manager.pk, "cancelled"),
    ]
    assert [e.details["booking_event_id"] for e in entries()] == [e.pk for e in events]
    # outside a request there is no origin to record
    assert {(e.address, e.user_agent, e.request_id) for e in entries()} == {(None, "", "")}


def test_a_customers_own_bookings_stay_out_of_the_trail(db, fixed_now, client_for):
    shop = Shop()
    booking = shop.book_wash(MONDAY_10)  # a guest on the pages
    with scopes_disabled():
        # and a signed-in customer's account acting on their own booking
        account = CustomerFactory(organization=shop.organization).user
        assert booking.status == BookingStatus.PENDING
        booking_cancel(actor=account, booking=booking, expected_version=booking.version)

    assert entries() == []


def test_a_platform_admins_changes_are_recorded_too(tenant_a, platform_admin):
    open_every_day(tenant_a.location)
    bay = ResourceFactory(location=tenant_a.location)
    service = ServiceFactory(organization=tenant_a.organization, resources=[bay])
    with scopes_disabled():
        booking = booking_create(
            actor=None,
            source=BookingSource.CUSTOMER,
            service=service,
            customer=tenant_a.customer,
            location=tenant_a.location,
            starts_at=MONDAY_10,
        )
        booking_confirm(actor=platform_admin, booking=booking, expected_version=booking.version)

    assert [(e.actor_id, e.details["event"]) for e in entries()] == [
        (platform_admin.pk, "confirmed")
    ]


def test_the_schedule_export_records_the_customers_it_named(tenant_a, client_for, fixed_now):
    BookingFactory(
        resource=ResourceFactory(location=tenant_a.location),
        customer=tenant_a.customer,
        starts_at=LATER_TODAY,
    )
    owner = client_for(tenant_a.owner)
    query = f"?organization={tenant_a.organization.slug}"

    schedule = get(owner, reverse("admin:analytics_dashboard_csv", args=["schedule"]) + query)
    days = get(owner, reverse("admin:analytics_dashboard_csv", args=["days"]) + query)

    assert schedule.status_code == days.status_code == 200, schedule.content
    assert tenant_a.customer.full_name in schedule.content.decode()
    (export,) = entries()
    assert_origin(export, tenant_a.owner)
    assert export.action == AuditAction.CUSTOMER_EXPORTED
    assert export.details == {"table": "schedule", "customer_ids": [tenant_a.customer.pk]}


def test_no_entry_carries_an_email(tenant_a, client_for):
    """Everything above that a manager can do, then every stored byte is looked at."""
    manager = client_for(tenant_a.manager)
    get(manager, reverse("admin:accounts_customer_changelist") + "?q=customer@alpha.example")
    get(manager, reverse("admin:accounts_customer_change", args=[tenant_a.customer.pk]))
    manager.post(
        reverse("admin:accounts_customer_change", args=[tenant_a.customer.pk]),
        {"full_name": "Renamed", "email": "another@alpha.example", "phone": "+358401234567"},
    )
    get(manager, reverse("admin:workspace_customer", args=[tenant_a.customer.pk]))

    with scopes_disabled(), connection.cursor() as cursor:  # every stored row, as the owner
        cursor.execute("SELECT row_to_json(e)::text FROM accounts_auditentry e")
        rows = [row[0] for row in cursor.fetchall()]
    assert len(rows) == 4
    assert not [row for row in rows if "@" in row or "358401234567" in row]


# --- Append-only ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE accounts_auditentry SET action = 'customer_listed' WHERE id = %s",
        "UPDATE accounts_auditentry SET actor_id = actor_id WHERE id = %s",
        "DELETE FROM accounts_auditentry WHERE id = %s",
    ],
)
def test_postgresql_refuses_to_change_or_remove_an_entry(entry_of, statement):
    entry = entry_of["a"]

    refused = pytest.raises(ProgrammingError, match="append-only")
    # As the owner, past the row policies: what stops the change is the trigger.
    with refused, transaction.atomic(), scopes_disabled(), connection.cursor() as cursor:
        cursor.execute(statement, [entry.pk])

    (kept,) = entries(pk=entry.pk)
    assert kept.action == AuditAction.CUSTOMER_VIEWED


def test_the_orm_cannot_change_or_delete_an_entry_either(entry_of):
    entry = entry_of["a"]

    with (
        pytest.raises(ProgrammingError, match="append-only"),
        transaction.atomic(),
        scopes_disabled(),
    ):
        entry.save(update_fields=["action"])
    refused = pytest.raises(ProgrammingError, match="append-only")
    with refused, transaction.atomic(), scopes_disabled():
        AuditEntry.objects.filter(pk=entry.pk).delete()

    assert len(entries(pk=entry.pk)) == 1


def test_the_admin_offers_no_add_change_or_delete(entry_of, tenant_a, client_for):
    owner = client_for(tenant_a.owner)
    entry = entry_of["a"]

    page = owner.get(reverse("admin:accounts_auditentry_change", args=[entry.pk]))
    posted = owner.post(
        reverse("admin:accounts_auditentry_change", args=[entry.pk]), {"action": "x"}
    )
    delete = owner.get(reverse("admin:accounts_auditentry_delete", args=[entry.pk]))
    add = owner.get(reverse("admin:accounts_auditentry_add"))

    assert page.status_code == 200
    assert (posted.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    assert (
        "delete_selected"
        not in owner.get(reverse("admin:accounts_auditentry_changelist")).content.decode()
    )


# --- Who reads it --------------------------------------------------------------------------------


def listed_entries(client) -> set[int]:
    response = client.get(reverse("admin:accounts_auditentry_changelist"))
    assert response.status_code == 200
    return {entry.pk for entry in response.context["cl"].result_list}


def test_owners_read_their_organizations_entries_only(entry_of, tenant_a, client_for):
    owner = client_for(tenant_a.owner)

    assert listed_entries(owner) == {entry_of["a"].pk}
    other = owner.get(reverse("admin:accounts_auditentry_change", args=[entry_of["b"].pk]))
    assert other.status_code == 404


@pytest.mark.parametrize("role", ["manager", "staff"])
def test_managers_and_staff_do_not_read_the_trail(entry_of, tenant_a, client_for, role):
    client = client_for(tenant_a.user(role))

    assert client.get(reverse("admin:accounts_auditentry_changelist")).status_code == 403
    own = client.get(reverse("admin:accounts_auditentry_change", args=[entry_of["a"].pk]))
    assert own.status_code in (403, 404)


def test_platform_admins_read_every_organizations_entries(entry_of, platform_admin, client_for):
    assert listed_entries(client_for(platform_admin)) == {entry_of["a"].pk, entry_of["b"].pk}
