"""Bookable resources: wash bays, cars, staff members' time (the booking engine issue)."""
