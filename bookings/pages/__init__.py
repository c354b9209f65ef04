"""The customer's booking pages, served under /<organization_slug>/ without an account: the
journeys of a service (journey.py) and of a car (cars.py), and managing a booking afterwards
(manage.py). Templates are in templates/pages/."""
