"""What the email outboxes count for /metrics (config/operations/exporter.py serves it)."""

from prometheus_client import Counter

EMAILS = Counter(
    "booking_emails_total",
    "Outbox emails by outbox (accountemail, outboxemail) and outcome: sent, retry (a failed "
    "attempt to be retried), failed (given up).",
    ["outbox", "outcome"],
)
