"""How every booking page answers: in the location's time zone, and a refusal of the engine
with the status its error carries (config.api.errors.DomainError), as the API does."""

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
