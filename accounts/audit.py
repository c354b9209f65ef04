"""The audit trail of staff access to personal data: who viewed, exported or changed a
customer, who changed a booking, a membership or a role, from where and when.

`audit_record` is the one way to write it (`audit_customers_shown` for a list), called where
the access happens: the admin's customer and membership pages (accounts.admin), a booking's
page in the admin and the staff API, the staff schedule (bookings.admin, bookings.api.staff),
the desk's customer history (bookings.workspace.customers), the API's customer lookup
(accounts.api.views), the dashboard's schedule export (analytics.views) and, for every booking
change made by staff, `bookings.services.timeline.event_record`. Where the request came from
is kept by AuditOriginMiddleware in a context variable, so a service deep below the view
records it without being handed the request.

Entries are never changed or deleted (PostgreSQL refuses it: migration 0008's trigger) and name
people and records by id only: no email, phone or free text is copied here, so the trail holds
nothing an erasure would have to reach.
"""

import ipaddress
from collections.abc import Callable, Iterable
from contextvars import ContextVar

from django.db import models
from django.http import HttpRequest, HttpResponse

from accounts.models import AuditEntry, Customer, User
from accounts.roles import grants_of, is_platform_admin
from config.api.throttling import client_address

_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)

USER_AGENT_LENGTH = AuditEntry._meta.get_field("user_agent").max_length


class AuditOriginMiddleware:
    """Keeps the request at hand for `audit_record` while the view runs; the origin is read
    only when an entry is written, so requests that touch no personal data pay nothing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def _client_address(request: HttpRequest) -> str | None:
    """The client as the throttles see it; None for anything that is not an IP address."""
    candidate = client_address(request) or ""
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def is_staff_of(actor: User | None, organization_id: int) -> bool:
    """Whether the actor works for the organization (or runs the platform): what they do there
    is staff access. A customer acting on their own bookings is not."""
    if actor is None:
        return False
    return is_platform_admin(actor) or organization_id in grants_of(actor)


def audit_record(
    *,
    actor: User,
    action: str,
    organization_id: int,
    target: models.Model | None = None,
    target_type: type[models.Model] | None = None,
    details: dict | None = None,
) -> AuditEntry:
    """Write one entry. `target` is the row touched; a list of rows gives their model as
    `target_type` and their ids in `details`. Details hold ids, codes and field names only."""
    model = type(target) if target is not None else target_type
    if model is None:
        raise TypeError("audit_record needs a target or a target_type.")
    request = _request.get()
    origin = {}
    if request is not None:
        origin = {
            "address": _client_address(request),
            "user_agent": request.headers.get("User-Agent", "")[:USER_AGENT_LENGTH],
            "request_id": getattr(request, "request_id", None) or "",
        }
    return AuditEntry.objects.create(
        organization_id=organization_id,
        actor=actor,
        action=action,
        target_type=model._meta.label_lower,
        target_id=target.pk if target is not None else None,
        details=details or {},
        **origin,
    )


def audit_customers_shown(
    *,
    actor: User,
    action: str,
    organization_id: int,
    customer_ids: Iterable[int],
    details: dict | None = None,
) -> AuditEntry | None:
    """One entry for a list, a search or an export that showed customers, naming them by id
    (each once, in the order shown); one that showed nobody is not recorded."""
    shown = list(dict.fromkeys(customer_ids))
    if not shown:
        return None
    return audit_record(
        actor=actor,
        action=action,
        organization_id=organization_id,
        target_type=Customer,
        details={**(details or {}), "customer_ids": shown},
    )
