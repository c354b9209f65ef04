from django.urls import path

from bookings.api import cars, catalogue, customer, staff

ORGANIZATION = "organizations/<slug:organization_slug>/"

urlpatterns = [
    path(ORGANIZATION, catalogue.OrganizationView.as_view(), name="organization"),
    path(f"{ORGANIZATION}locations/", catalogue.LocationListView.as_view(), name="locations"),
    path(f"{ORGANIZATION}services/", catalogue.ServiceListView.as_view(), name="services"),
    path(
        f"{ORGANIZATION}services/<int:pk>/",
        catalogue.ServiceDetailView.as_view(),
        name="service",
    ),
    path(
        f"{ORGANIZATION}services/<int:pk>/availability/",
        catalogue.ServiceAvailabilityView.as_view(),
        name="service-availability",
    ),
    path(f"{ORGANIZATION}cars/", cars.CarListView.as_view(), name="cars"),
    path(f"{ORGANIZATION}cars/<int:pk>/", cars.CarDetailView.as_view(), name="car"),
    path(
        f"{ORGANIZATION}cars/<int:pk>/availability/",
        cars.CarAvailabilityView.as_view(),
        name="car-availability",
    ),
    path(
        f"{ORGANIZATION}cars/<int:pk>/reviews/",
        cars.CarReviewListView.as_view(),
        name="car-reviews",
    ),
    path(f"{ORGANIZATION}bookings/", customer.BookingCreateView.as_view(), name="booking-create"),
    path("me/bookings/", customer.AccountBookingListView.as_view(), name="my-bookings"),
    path(
        "me/bookings/<str:code>/",
        customer.AccountBookingDetailView.as_view(),
        name="my-booking",
    ),
    path(
        "me/bookings/<str:code>/cancel/",
        customer.AccountBookingCancelView.as_view(),
        name="my-booking-cancel",
    ),
    path(
        "me/bookings/<str:code>/reschedule/",
        customer.AccountBookingRescheduleView.as_view(),
        name="my-booking-reschedule",
    ),
    path(
        "me/bookings/<str:code>/review/",
        customer.AccountBookingReviewView.as_view(),
        name="my-booking-review",
    ),
    path(f"{ORGANIZATION}staff/schedule/", staff.ScheduleView.as_view(), name="staff-schedule"),
    path(
        f"{ORGANIZATION}staff/bookings/<str:code>/",
        staff.StaffBookingDetailView.as_view(),
        name="staff-booking",
    ),
    path(
        f"{ORGANIZATION}staff/bookings/<str:code>/<str:transition>/",
        staff.StaffBookingTransitionView.as_view(),
        name="staff-booking-transition",
    ),
]
