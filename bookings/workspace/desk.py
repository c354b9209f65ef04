"""The desk: book for a customer, move a booking, take a payment, block a resource's time.
(Being built.)"""

from django.http import Http404, HttpRequest, HttpResponse


def book(request: HttpRequest) -> HttpResponse:
    raise Http404("Being built.")


def move(request: HttpRequest, code: str) -> HttpResponse:
    raise Http404("Being built.")


def pay(request: HttpRequest, code: str) -> HttpResponse:
    raise Http404("Being built.")


def block(request: HttpRequest) -> HttpResponse:
    raise Http404("Being built.")
