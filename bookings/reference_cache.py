"""An organization's reference data kept in the process, keyed by its reference generation.

Every read of the catalogue and of availability needs the same few rows: the services with
their prices and resources, the locations with their opening hours, the resources. They change
rarely, and every change bumps the organization's ReferenceGeneration in the changing
transaction (triggers of bookings migrations 0014 and 0015, the organization's own row
included). So a process keeps one `Reference` per organization, read from PostgreSQL once per
generation: a reader that has just read the generation (bookings.availability_cache reads it
with the day generations, in the query it needs anyway) uses the copy of that generation and
reads everything again when the generation moved. Nothing here can be older than the generation
the reader saw, and no Redis round trip is spent on it.

A Reference is shared by the requests of the process: read it, never change it.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django_scopes import scope

from accounts.models import Location
from bookings.models import Service, ServiceKind
from bookings.selectors.catalogue import offered_services
from fleet.models import Resource

# Organizations whose reference data a process keeps; the least recently used leaves first.
MAX_ORGANIZATIONS = 500


@dataclass
class Reference:
    """One generation of an organization's reference data."""

    organization_id: int
    generation: int
    services: dict[int, Service]  # active, in offered_services() order, prefetched as it does
    locations: dict[int, Location]  # with their opening hours
    resources: dict[int, Resource]  # active or not, as a booking may name any
    # Answers computed from this generation (the catalogue's bodies), by the caller's key.
    answers: dict[Any, Any] = field(default_factory=dict)

    def appointment_service(self, service_id: int) -> Service | None:
        service = self.services.get(service_id)
        return service if service is not None and service.kind == ServiceKind.APPOINTMENT else None

    def serving(self, service_id: int, location_id: int, resource_id: int | None) -> list[int]:
        """The ids of the active resources at the location that serve the active service (or
        just the chosen one), lowest first, as bookings.selectors.bookable_resources orders."""
        service = self.services.get(service_id)
        if service is None:
            return []
        return sorted(
            resource.pk
            for resource in service.resources.all()  # prefetched: the active ones
            if resource.location_id == location_id
            and (resource_id is None or resource.pk == resource_id)
        )

    def answer(self, key: Any, compute) -> Any:
        """What `compute()` gives, once per generation for `key`."""
        if key not in self.answers:
            self.answers[key] = compute()
        return self.answers[key]


_references: OrderedDict[int, Reference] = OrderedDict()
_lock = threading.Lock()


def reference_generation(organization_id: int) -> int:
    """The organization's reference generation (0 while nothing was ever changed), one query;
    availability reads it along with its days instead (bookings.availability_cache). On the
    primary, as everything here: see _read."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT generation FROM bookings_referencegeneration WHERE organization_id = %s",
            [organization_id],
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def current_reference(organization_id: int) -> Reference:
    """The organization's reference data as of now: one query for the generation."""
    return reference_of(organization_id, reference_generation(organization_id))


def reference_of(organization_id: int, generation: int) -> Reference:
    """The organization's reference data at `generation` (just read from PostgreSQL by the
    caller): this process's copy, or read now (three queries) when the generation moved."""
    with _lock:
        reference = _references.get(organization_id)
        if reference is not None and reference.generation == generation:
            _references.move_to_end(organization_id)
            return reference
    reference = _read(organization_id, generation)
    with _lock:
        _references[organization_id] = reference
        _references.move_to_end(organization_id)
        while len(_references) > MAX_ORGANIZATIONS:
            _references.popitem(last=False)
    return reference


def forget_all() -> None:
    """Drop every organization's copy (tests that roll their data back)."""
    with _lock:
        _references.clear()


def _read(organization_id: int, generation: int) -> Reference:
    # Read after the generation, on the primary it was read on (the generations always are:
    # bookings.availability_cache), even inside a view whose reads may go to a replica
    # (config/replicas.py): a replica behind the primary would put older rows under a newer
    # key. So what is read is at least as new as the generation it is kept under.
    primary = DEFAULT_DB_ALIAS
    with scope(organization=organization_id):
        services = {service.pk: service for service in offered_services().using(primary)}
        locations = {
            location.pk: location
            for location in Location.objects.using(primary)
            .prefetch_related("opening_hours")
            .order_by("name", "pk")
        }
        resources = {
            resource.pk: resource for resource in Resource.objects.using(primary).order_by("pk")
        }
    return Reference(organization_id, generation, services, locations, resources)
