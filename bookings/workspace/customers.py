"""A customer's history at the desk: who they are, their bookings upcoming and past, what they
spent, their no-shows and cancellations, and a way to book for them."""

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.audit import audit_record
from accounts.models import AuditAction, Customer
from accounts.roles import permitted
from bookings.selectors.customers import customer_history


@require_GET
def customer(request: HttpRequest, customer_id: int) -> HttpResponse:
    # Another tenant's customer is as absent as a missing one.
    found = (
        permitted(request.user, "accounts.view_customer", Customer.objects.all())
        .select_related("organization")
        .filter(pk=customer_id)
        .first()
    )
    if found is None:
        raise Http404("No customer with this id.")
    audit_record(
        actor=request.user,
        action=AuditAction.CUSTOMER_HISTORY_VIEWED,
        organization_id=found.organization_id,
        target=found,
    )
    context = {
        **admin.site.each_context(request),
        "title": found.full_name,
        "history": customer_history(request.user, found),
        "book_url": f"{reverse('admin:workspace_book')}?customer={found.pk}",
    }
    return TemplateResponse(request, "admin/workspace/customer.html", context)
