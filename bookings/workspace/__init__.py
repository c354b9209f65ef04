"""The staff's working day in the admin: the resource calendar and the desk actions around it
(book a walk-in, move a booking, take a payment, block time, a customer's history).

Every page is registered on the admin site (behind its login and tenant scope), asks
accounts.roles for what the user may see and do, and calls the engine's services, so the
exclusion constraint, the version check and the timeline work exactly as for customers.
"""
