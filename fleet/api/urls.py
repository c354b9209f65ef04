from django.urls import path

from fleet.api import views

ORGANIZATION = "organizations/<slug:organization_slug>/"

urlpatterns = [
    path(f"{ORGANIZATION}cars/", views.CarListView.as_view(), name="cars"),
    path(f"{ORGANIZATION}cars/<int:pk>/", views.CarDetailView.as_view(), name="car"),
    path(
        f"{ORGANIZATION}cars/<int:pk>/availability/",
        views.CarAvailabilityView.as_view(),
        name="car-availability",
    ),
    path(
        f"{ORGANIZATION}cars/<int:pk>/reviews/",
        views.CarReviewListView.as_view(),
        name="car-reviews",
    ),
]
