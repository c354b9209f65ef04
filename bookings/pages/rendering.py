"""How every booking page answers: in the location's time zone, and a refusal of the engine
with the status its error carries (config.api.errors.DomainError), as the API does."""

import math
from collections import Counter

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.models import Location

BAD_REQUEST = 400
# The booking is in a state that does not allow the step (past the cut-off, already over).
CONFLICT = 409


def render_at(
    request: HttpRequest,
    template: str,
    context: dict,
    *,
    location: Location | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render with times shown on the location's wall clock."""
    if location is None:
        return render(request, template, context, status=status)
    with timezone.override(location.time_zone):
        return render(request, template, {"location": location, **context}, status=status)


def too_many_attempts(request: HttpRequest, wait_seconds: int, message: str) -> HttpResponse:
    """429: a page form was sent too often from this address (config.api.throttling.page_wait)."""
    response = render(
        request,
        "pages/too_many.html",
        {"message": message, "wait_minutes": math.ceil(wait_seconds / 60)},
        status=429,
    )
    response["Retry-After"] = str(wait_seconds)
    return response


def slot_times(slots: list, zone) -> list[tuple[object, str]]:
    """Each slot with its start as the wall clock shows it: "03:00", or "03:00 (UTC+03:00)"
    when that time occurs twice on its day (the hour repeated when the clocks go back), so the
    two are told apart."""
    local = [slot.starts_at.astimezone(zone) for slot in slots]
    seen = Counter((at.date(), at.strftime("%H:%M")) for at in local)
    labels = []
    for slot, at in zip(slots, local, strict=True):
        label = at.strftime("%H:%M")
        if seen[(at.date(), label)] > 1:
            offset = at.strftime("%z")
            label += f" (UTC{offset[:3]}:{offset[3:]})"
        labels.append((slot, label))
    return labels
