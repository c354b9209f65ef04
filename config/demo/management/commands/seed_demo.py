"""Demo data for `make run`: three businesses of the three kinds, a login for every role.

Idempotent: every row is found by its natural key and updated, so running it again changes
nothing and duplicates nothing.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Customer, Location, Membership, Organization, Role, User
from config.demo.engine import seed_engine, seed_history, seed_upcoming
from config.row_security import platform_wide

DEMO_PASSWORD = "demo-pass-2026"
PLATFORM_ADMIN_EMAIL = "admin@demo.example"


@dataclass(frozen=True)
class DemoLocation:
    slug: str
    name: str
    street_address: str
    postal_code: str
    city: str
    country: str
    time_zone: str


@dataclass(frozen=True)
class DemoOrganization:
    slug: str
    name: str
    kind: str
    time_zone: str
    currency: str
    brand_color: str
    locations: list[DemoLocation] = field(default_factory=list)
    customers: list[tuple[str, str, str]] = field(default_factory=list)  # name, email, phone


DEMO_ORGANIZATIONS = [
    DemoOrganization(
        slug="sparkle-wash",
        name="Sparkle Car Wash",
        kind="car wash",
        time_zone="Europe/Helsinki",
        currency="EUR",
        brand_color="#0b57d0",
        locations=[
            DemoLocation(
                "kamppi",
                "Sparkle Kamppi",
                "Runeberginkatu 5",
                "00100",
                "Helsinki",
                "FI",
                "Europe/Helsinki",
            ),
        ],
        customers=[
            ("Aino Virtanen", "aino.virtanen@demo.example", "+358401234567"),
            ("Mikko Korhonen", "mikko.korhonen@demo.example", "+358409876543"),
        ],
    ),
    DemoOrganization(
        slug="northwind-rental",
        name="Northwind Car Rental",
        kind="car rental",
        time_zone="Europe/Stockholm",
        currency="SEK",
        brand_color="#0f5132",
        locations=[
            DemoLocation(
                "arlanda",
                "Arlanda Airport",
                "Terminalvägen 2",
                "19045",
                "Stockholm-Arlanda",
                "SE",
                "Europe/Stockholm",
            ),
            DemoLocation(
                "city",
                "Stockholm City",
                "Vasagatan 10",
                "11120",
                "Stockholm",
                "SE",
                "Europe/Stockholm",
            ),
        ],
        customers=[
            ("Erik Lindqvist", "erik.lindqvist@demo.example", "+46701234567"),
            ("Sara Nilsson", "sara.nilsson@demo.example", "+46709876543"),
        ],
    ),
    DemoOrganization(
        slug="fade-barbers",
        name="Fade & Blade Barbers",
        kind="barbershop",
        time_zone="Europe/London",
        currency="GBP",
        brand_color="#7a1f5c",
        locations=[
            DemoLocation(
                "shoreditch",
                "Shoreditch",
                "12 Redchurch Street",
                "E2 7DJ",
                "London",
                "GB",
                "Europe/London",
            ),
            DemoLocation(
                "camden", "Camden", "48 Parkway", "NW1 7AH", "London", "GB", "Europe/London"
            ),
        ],
        customers=[
            ("Oliver Smith", "oliver.smith@demo.example", "+447700900123"),
            ("Amelia Jones", "amelia.jones@demo.example", "+447700900456"),
        ],
    ),
]


class Command(BaseCommand):
    help = "Create or refresh the demo organizations, users and customers (safe to run again)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Seed even though DEBUG is off (the demo logins have a published password).",
        )

    @transaction.atomic
    @platform_wide("seed_demo: every tenant's rows")
    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["allow_without_debug"]:
            raise CommandError(
                "Refusing to create demo logins with a published password while "
                "DEBUG is off; pass --allow-without-debug if you mean it."
            )
        logins = [
            (
                "platform admin",
                "all organizations",
                self._user(PLATFORM_ADMIN_EMAIL, "Platform Admin", True),
            )
        ]
        for demo in DEMO_ORGANIZATIONS:
            organization, _ = Organization.objects.update_or_create(
                slug=demo.slug,
                defaults={
                    "name": demo.name,
                    "time_zone": demo.time_zone,
                    "currency": demo.currency,
                    "contact_email": f"hello@{demo.slug}.demo.example",
                    "brand_color": demo.brand_color,
                },
            )
            locations = [self._location(organization, location) for location in demo.locations]
            first_location = locations[:1]
            for role, limited_to in [
                (Role.OWNER, []),
                (Role.MANAGER, first_location),
                (Role.STAFF, first_location),
            ]:
                user = self._user(f"{role}@{demo.slug}.demo.example", f"Demo {role.label}")
                membership, _ = Membership.objects.update_or_create(
                    organization=organization,
                    user=user,
                    defaults={"role": role, "limited_to_locations": bool(limited_to)},
                )
                membership.locations.set(limited_to)
                where = ", ".join(loc.name for loc in limited_to) or "whole organization"
                logins.append((f"{demo.kind} {role.label.lower()}", where, user))

            seed_engine(organization, demo.kind, locations)

            customer_user = self._user(f"customer@{demo.slug}.demo.example", "Demo Customer")
            self._customer(organization, "Demo Customer", customer_user.email, "", customer_user)
            customers = [
                self._customer(organization, name, email, phone, None)
                for name, email, phone in demo.customers
            ]
            seed_history(organization, customers)
            seed_upcoming(organization, customers)
            logins.append((f"{demo.kind} customer", "own bookings", customer_user))

        self._print_summary(logins)

    def _user(self, email: str, full_name: str, superuser: bool = False) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email, DEMO_PASSWORD, full_name=full_name, is_superuser=superuser
            )
        return user

    def _location(self, organization: Organization, demo: DemoLocation) -> Location:
        location, _ = Location.objects.update_or_create(
            organization=organization,
            slug=demo.slug,
            defaults={
                "name": demo.name,
                "street_address": demo.street_address,
                "postal_code": demo.postal_code,
                "city": demo.city,
                "country": demo.country,
                "time_zone": demo.time_zone,
            },
        )
        return location

    def _customer(self, organization, full_name, email, phone, user) -> Customer:
        # Found by the email's blind index: the email itself is encrypted (config/encryption.py).
        customer = Customer.objects.filter(Customer.email_is(email), organization=organization)
        customer = customer.first() or Customer(organization=organization, email=email)
        customer.full_name, customer.phone, customer.user = full_name, phone, user
        customer.save()
        return customer

    def _print_summary(self, logins: list[tuple[str, str, User]]) -> None:
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for role, where, user in logins:
            self.stdout.write(f"  {role:<32} {user.email:<42} {where}")
        self.stdout.write("Booking pages:")
        for demo in DEMO_ORGANIZATIONS:
            self.stdout.write(f"  /{demo.slug}/  ({demo.name}, {demo.kind})")
