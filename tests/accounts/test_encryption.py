"""Personal data encrypted at rest (config/encryption.py): what a dump of the database shows,
lookups through the blind indexes, key rotation, and a tampered value refused clearly."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import FieldError, ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from accounts.models import Customer
from accounts.selectors import customers_matching
from accounts.services import account_delete, customer_for_desk, customer_for_guest
from bookings.models import Booking, EmailKind, OutboxEmail
from bookings.notifications import email_queue
from bookings.selectors.access import booking_by_code_and_email
from bookings.services.timeline import event_record
from config.api.models import IdempotencyRecord
from config.encryption import UnreadableCiphertext, blind_index
from config.operations.backups import pg_program
from tests.factories import BookingFactory, CustomerFactory

REPOSITORY = Path(__file__).resolve().parents[2]
NOTE = "Gate code 4711, the dog is friendly"
REASON = "Other: my divorce hearing moved"


@pytest.fixture(autouse=True)
def as_the_owner():
    """These tests look at the stored bytes and call the services directly, outside any
    request's scope: as the owner, past the row policies (config/row_security.py)."""
    with scopes_disabled():
        yield


def stored(table: str, column: str, pk: int) -> str:
    """The value as PostgreSQL holds it, past the model's fields."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "{column}" FROM {table} WHERE id = %s', [pk])
        return cursor.fetchone()[0]


def tamper(table: str, column: str, pk: int) -> None:
    """One character of the token changed, as an attacker with write access to the table would."""
    token = stored(table, column, pk)
    middle = len(token) // 2
    flipped = "A" if token[middle] != "A" else "B"
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE {table} SET "{column}" = %s WHERE id = %s',
            [token[:middle] + flipped + token[middle + 1 :], pk],
        )


# --- What the database holds --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_dump_of_the_database_shows_no_customers_email_phone_or_notes(tenant_a):
    # given guests who booked with their email, phone and a note, and the emails sent to them
    with scopes_disabled():
        guests = [
            CustomerFactory(
                organization=tenant_a.organization,
                email=f"Guest.{n}@Example.org",
                phone=f"+35840765432{n}",
            )
            for n in range(3)
        ]
        for guest in guests:
            booking = BookingFactory(
                customer=guest,
                resource__location=tenant_a.location,
                notes=NOTE,
                cancellation_reason=REASON,  # also in the email's snapshot
            )
            with scope(organization=tenant_a.organization.pk), transaction.atomic():
                email_queue(booking, kind=EmailKind.CONFIRMATION, event_key="created")
                # The timeline keeps the reason typed; an API client's stored answer, the guest.
                event_record(booking, kind="cancelled", actor=None, changes={"reason": REASON})
            IdempotencyRecord.objects.create(
                user=tenant_a.owner,
                key=f"key-{guest.pk}",
                request_fingerprint="0" * 64,
                response_status=201,
                response_body={"customer": {"email": guest.email, "phone": guest.phone.as_e164}},
            )
        assert OutboxEmail.objects.filter(booking__customer__in=guests).count() == 3

    # when the database is dumped as an operator (or a thief of a backup) would
    db = connection.settings_dict
    dump = subprocess.run(
        [
            pg_program("pg_dump", connection.pg_version),
            "--data-only",
            "--no-owner",
            f"--dbname={db['NAME']}",
            f"--host={db['HOST'] or '127.0.0.1'}",
            f"--port={db['PORT'] or 5432}",
            f"--username={db['USER'] or 'postgres'}",
        ],
        env=os.environ | ({"PGPASSWORD": db["PASSWORD"]} if db.get("PASSWORD") else {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.lower()

    # then none of them is there in clear, however written, nor what they wrote
    assert "insert into" in dump or "copy public.accounts_customer" in dump  # a real dump
    for guest in guests:
        phone = guest.phone.as_e164
        for clear in (guest.email.lower(), phone, phone.replace("+358", "0"), guest.full_name):
            if clear == guest.full_name:
                assert clear.lower() in dump  # names are not encrypted: the dump is readable
                continue
            assert clear not in dump, f"{clear} is in the dump"
    assert NOTE.lower() not in dump
    assert REASON.lower() not in dump
    # while the application reads every one of them
    with scopes_disabled():
        for guest in guests:
            read = Customer.objects.get(pk=guest.pk)
            assert (read.email, str(read.phone)) == (guest.email.lower(), guest.phone.as_e164)
            assert read.bookings.get().notes == NOTE
            email = read.bookings.get().emails.get()
            assert (email.to, email.snapshot["cancellation_reason"]) == (read.email, REASON)
            event = read.bookings.get().events.get(kind="cancelled")
            assert event.changes == {"reason": REASON}
            answer = IdempotencyRecord.objects.get(key=f"key-{guest.pk}").response_body
            assert answer["customer"]["email"] == read.email


@pytest.mark.django_db
def test_each_value_is_stored_as_an_authenticated_token_that_differs_every_time(tenant_a, tenant_b):
    # given A's and B's customers have the same number (CustomerFactory's)
    both = (tenant_a.customer, tenant_b.customer)
    tokens = [stored("accounts_customer", "phone", customer.pk) for customer in both]
    assert tokens[0] != tokens[1]  # a fresh IV each time: equal numbers do not look equal
    assert {Fernet(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(t.encode()) for t in tokens} == {
        b"+358401234567"
    }
    # the blind indexes, unlike the tokens, are equal for equal numbers (that is their use)
    assert {c.phone_index for c in both} == {blind_index("phone", "+358401234567")}


@pytest.mark.django_db
def test_an_encrypted_field_refuses_lookups_that_could_only_match_nothing(tenant_a):
    with scopes_disabled():
        with pytest.raises(FieldError, match="email is encrypted: look it up by its blind index"):
            Customer.objects.filter(email="customer@alpha.example").exists()
        with pytest.raises(FieldError):
            Customer.objects.filter(phone__contains="4012").exists()
        # "has none" still works, and finds the walk-in without an email
        walk_in = CustomerFactory(organization=tenant_a.organization, email="")
        assert list(Customer.objects.filter(organization=tenant_a.organization, email="")) == [
            walk_in
        ]


# --- Lookups through the blind indexes ----------------------------------------------------------


@pytest.mark.django_db
def test_a_guest_is_found_by_email_however_they_type_it(tenant_a):
    first = customer_for_guest(
        organization=tenant_a.organization, full_name="Aino", email=" Aino@Example.COM "
    )
    again = customer_for_guest(
        organization=tenant_a.organization, full_name="Someone", email="aino@example.com"
    )
    assert again.pk == first.pk
    assert again.full_name == "Aino"  # what a stranger types does not overwrite the record


@pytest.mark.django_db
def test_one_customer_per_email_holds_through_the_index(tenant_a, tenant_b):
    with scopes_disabled():
        CustomerFactory(organization=tenant_a.organization, email="twice@example.com")
        CustomerFactory(organization=tenant_b.organization, email="twice@example.com")  # fine
        duplicate = Customer(
            organization=tenant_a.organization, full_name="Again", email="TWICE@example.com"
        )
        with pytest.raises(ValidationError, match="already has a customer with this email"):
            duplicate.full_clean()
        with pytest.raises(IntegrityError), transaction.atomic():
            duplicate.save()


@pytest.mark.django_db
def test_the_desk_finds_a_walk_in_by_the_phone_number_typed_another_way(tenant_a):
    with scopes_disabled():
        walk_in = CustomerFactory(
            organization=tenant_a.organization, email="", phone="+358409998877"
        )
    found = customer_for_desk(
        organization=tenant_a.organization, full_name="Walk In", phone="040 999 8877"
    )
    assert found.pk == walk_in.pk


@pytest.mark.django_db
def test_changing_a_phone_with_update_fields_moves_its_index_too(tenant_a):
    with scopes_disabled():
        customer = CustomerFactory(organization=tenant_a.organization, phone="+358401111111")
        customer.phone = "+358402222222"
        customer.save(update_fields=["phone"])
        assert Customer.objects.filter(Customer.phone_is("0402222222")).get() == customer
        assert not Customer.objects.filter(Customer.phone_is("+358401111111")).exists()


@pytest.mark.django_db
def test_customers_matching_finds_whole_emails_and_numbers_only_in_its_queryset(tenant_a, tenant_b):
    with scopes_disabled():
        mine = Customer.objects.filter(organization=tenant_a.organization)

        def found(term: str) -> list:
            return list(customers_matching(mine, term))

        assert found("CUSTOMER@alpha.example") == [tenant_a.customer]
        assert found("+358 40 123 4567") == [tenant_a.customer]  # B's has it too, elsewhere
        assert found("customer@alpha") == []  # only whole values have an index
        assert found("Alpha Cust") == [tenant_a.customer]  # names are clear text, found in part


@pytest.mark.django_db
def test_a_guest_finds_their_booking_by_code_and_email_in_any_case(tenant_a):
    with scopes_disabled():
        booking = BookingFactory(customer=tenant_a.customer, resource__location=tenant_a.location)
    with scope(organization=tenant_a.organization.pk):
        assert booking_by_code_and_email(booking.code, "Customer@Alpha.Example") == booking
        assert booking_by_code_and_email(booking.code, "someone@alpha.example") is None
        assert booking_by_code_and_email(booking.code, "") is None


@pytest.mark.django_db
def test_an_erased_account_leaves_no_index_behind(tenant_a):
    with scopes_disabled():
        account_delete(actor=tenant_a.customer_user, password="password")
        erased = Customer.objects.get(pk=tenant_a.customer.pk)
    assert (erased.email, erased.email_index, erased.phone, erased.phone_index) == ("",) * 4


@pytest.mark.django_db
def test_the_admin_finds_customers_and_bookings_by_whole_email(tenant_a, client_for):
    with scopes_disabled():
        booking = BookingFactory(customer=tenant_a.customer, resource__location=tenant_a.location)
    client = client_for(tenant_a.owner)
    customers = client.get(
        reverse("admin:accounts_customer_changelist"), {"q": "CUSTOMER@alpha.example"}
    )
    bookings = client.get(
        reverse("admin:bookings_booking_changelist"), {"q": "customer@alpha.example"}
    )
    assert list(customers.context["cl"].result_list) == [tenant_a.customer]
    assert list(bookings.context["cl"].result_list) == [booking]


@pytest.mark.django_db
def test_the_admin_shows_and_edits_the_clear_values(tenant_a, client_for):
    url = reverse("admin:accounts_customer_change", args=[tenant_a.customer.pk])
    client = client_for(tenant_a.owner)
    page = client.get(url).content.decode()
    assert 'value="customer@alpha.example"' in page and "+358401234567" in page

    response = client.post(
        url,
        {
            "organization": tenant_a.organization.pk,
            "full_name": "Alpha Customer",
            "email": "New.Address@Alpha.example",
            "phone": "040 765 4321",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    with scopes_disabled():
        customer = Customer.objects.get(Customer.email_is("new.address@alpha.example"))
    assert (customer.pk, str(customer.phone)) == (tenant_a.customer.pk, "+358407654321")
    assert "new.address" not in stored("accounts_customer", "email", customer.pk)
    # the admin's log names the customer without their contact details
    with connection.cursor() as cursor:
        cursor.execute("SELECT object_repr, change_message FROM django_admin_log")
        assert all("@" not in repr_ and "+358" not in repr_ for repr_, _ in cursor.fetchall())


# --- Key rotation -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_key_is_rotated_by_putting_a_new_one_first_and_reencrypting(tenant_a):
    old = settings.FIELD_ENCRYPTION_KEYS
    new = Fernet.generate_key().decode()
    with scopes_disabled():
        booking = BookingFactory(
            customer=tenant_a.customer, resource__location=tenant_a.location, notes=NOTE
        )

        with override_settings(FIELD_ENCRYPTION_KEYS=[new, *old]):
            # the old key still decrypts what it wrote...
            assert Customer.objects.get(pk=tenant_a.customer.pk).email == "customer@alpha.example"
            # ...and the new one encrypts what is written now
            fresh = CustomerFactory(organization=tenant_a.organization, email="new@alpha.example")
            Fernet(new).decrypt(stored("accounts_customer", "email", fresh.pk).encode())

            output = io.StringIO()
            call_command("reencrypt_personal_data", "--batch-size", "2", stdout=output)
            assert "accounts.Customer: " in output.getvalue()

        with override_settings(FIELD_ENCRYPTION_KEYS=[new]):  # the old key dropped
            assert Customer.objects.get(pk=tenant_a.customer.pk).email == "customer@alpha.example"
            assert str(Customer.objects.get(pk=tenant_a.customer.pk).phone) == "+358401234567"
            assert Booking.objects.get(pk=booking.pk).notes == NOTE

        # and the old key alone no longer reads them
        with override_settings(FIELD_ENCRYPTION_KEYS=old), pytest.raises(UnreadableCiphertext):
            Customer.objects.get(pk=tenant_a.customer.pk)


# --- A tampered value ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tampered_value_is_refused_with_a_clear_409_not_a_500(tenant_a, client_for):
    tamper("accounts_customer", "phone", tenant_a.customer.pk)
    response = client_for(tenant_a.owner).get(
        reverse("admin:accounts_customer_change", args=[tenant_a.customer.pk])
    )

    assert response.status_code == 409
    assert "cannot be read" in response.content.decode()
    assert "+358" not in response.content.decode()
    with scopes_disabled(), pytest.raises(UnreadableCiphertext, match="altered in the database"):
        Customer.objects.get(pk=tenant_a.customer.pk)


@pytest.mark.django_db
def test_a_tampered_value_stops_the_rotation_naming_the_problem(tenant_a):
    tamper("accounts_customer", "email", tenant_a.customer.pk)
    row = f"accounts_customer row {tenant_a.customer.pk}: .* Keep every old key until this succeeds"
    with pytest.raises(CommandError, match=row):
        call_command("reencrypt_personal_data", stdout=io.StringIO())


# --- The keys' settings -------------------------------------------------------------------------


def production_start(**keys: str) -> subprocess.CompletedProcess:
    """Load the production settings in a fresh interpreter with these keys (others faked)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY")
    } | {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "booking.example",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "CELERY_BROKER_URL": "amqp://127.0.0.1:1//",
        **keys,
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_production_refuses_to_start_without_its_keys():
    good_key = Fernet.generate_key().decode()
    blind = "b" * 40

    no_keys = production_start(BLIND_INDEX_KEY=blind)
    no_index_key = production_start(FIELD_ENCRYPTION_KEYS=good_key)
    bad_key = production_start(FIELD_ENCRYPTION_KEYS=f"{good_key},not-a-key", BLIND_INDEX_KEY=blind)

    assert no_keys.returncode != 0 and "FIELD_ENCRYPTION_KEYS" in no_keys.stderr
    assert no_index_key.returncode != 0 and "BLIND_INDEX_KEY" in no_index_key.stderr
    assert "key 2 is not a Fernet key" in bad_key.stderr
    assert production_start(FIELD_ENCRYPTION_KEYS=good_key, BLIND_INDEX_KEY=blind).returncode == 0
