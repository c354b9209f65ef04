"""Services, opening hours, availability and bookings (the booking engine issue)."""
