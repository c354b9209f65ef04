"""The resource calendar: a location's day or week, a column per resource; rentals as a
timeline over days. (Being built.)"""

from django.http import Http404, HttpRequest, HttpResponse


def calendar(request: HttpRequest) -> HttpResponse:
    raise Http404("The calendar is being built.")
