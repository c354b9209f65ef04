"""The engine in the admin: the catalogue, bookings and their emails (bookings.py), maintenance
windows and car reviews (resources.py), and the staff workspace's pages (bookings.workspace)."""

from django.contrib import admin

from bookings.admin import bookings, payments, resources
from bookings.workspace import calendar, customers, desk

admin.site.register_page("calendar/", calendar.calendar, "workspace_calendar")
admin.site.register_page("desk/book/", desk.book, "workspace_book")
admin.site.register_page("desk/bookings/<str:code>/move/", desk.move, "workspace_move")
admin.site.register_page("desk/bookings/<str:code>/payment/", desk.pay, "workspace_pay")
admin.site.register_page("desk/bookings/<str:code>/status/", desk.status, "workspace_status")
admin.site.register_page("desk/block/", desk.block, "workspace_block")
admin.site.register_page(
    "desk/customers/<int:customer_id>/", customers.customer, "workspace_customer"
)

__all__ = ["bookings", "payments", "resources"]
