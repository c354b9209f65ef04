"""Reads of people that several rooms share: finding a customer however the staff type them."""

import re

from django.db.models import Q, QuerySet

from accounts.models import Customer

# A search typed like a phone number: digits with the usual separators, and enough digits.
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]+$")
PHONE_MIN_DIGITS = 6


def phone_search_digits(term: str) -> str | None:
    """The digits to look for in stored numbers (E.164, "+358401234567") when `term` is a
    phone number however it was typed: "040 123 4567" (national: the trunk 0 dropped),
    "+358 40 1234567", "00358401234567" (international: the 00 dropped). None otherwise."""
    term = term.strip()
    if not PHONE_LIKE.match(term):
        return None
    digits = re.sub(r"\D", "", term).lstrip("0")
    return digits if len(digits) >= PHONE_MIN_DIGITS else None


def customers_matching(customers: QuerySet[Customer], term: str) -> QuerySet[Customer]:
    """The customers (of a queryset the caller may see) whose name or email contains `term`,
    or whose phone is the number `term` spells; alphabetical."""
    term = term.replace("\x00", "").strip()
    condition = Q(full_name__icontains=term) | Q(email__icontains=term)
    if digits := phone_search_digits(term):
        condition |= Q(phone__contains=digits)
    return customers.filter(condition).order_by("full_name", "pk")
