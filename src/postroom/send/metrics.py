"""Prometheus metrics of sending, under the names operators already alert on."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EMAILS_SENT = Counter("emails_sent_total", "Deliveries a transport accepted", ["transport"])
EMAILS_FAILED = Counter(
    "emails_failed_total", "Deliveries that ended without being sent", ["reason"]
)  # bounced, failed, suppressed
EMAILS_DEFERRED = Counter("emails_deferred_total", "Delivery attempts deferred for a retry", ["transport"])
EMAIL_QUEUE_SIZE = Gauge("email_queue_size", "Deliveries waiting (queued, deferred or being sent)")
EMAIL_SEND_SECONDS = Histogram(
    "email_send_seconds",
    "Time from acceptance to the transport's answer, for sent deliveries",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
EMAIL_TRANSPORT_SECONDS = Histogram(
    "email_transport_seconds",
    "Time one transport call took",
    ["transport"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
