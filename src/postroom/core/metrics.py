"""Prometheus metrics shared by every capability (one process-wide registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_RECEIVED = Counter("postroom_messages_received_total", "Messages committed to the store", ["source"])
INGEST_FAILURES = Counter("postroom_ingest_failures_total", "Messages the store could not commit")
INGEST_SECONDS = Histogram(
    "postroom_ingest_seconds",
    "Time from a message's arrival at ingest to its durable commit",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SMTP_SESSIONS = Counter("postroom_smtp_sessions_total", "SMTP connections accepted")
SMTP_REPLIES = Counter("postroom_smtp_replies_total", "SMTP replies sent, by command and code", ["command", "code"])
STORED_MESSAGES = Gauge("postroom_stored_messages", "Messages in the store")
STORED_BYTES = Gauge("postroom_stored_bytes", "Raw bytes of the messages in the store")
PARSED_MESSAGES = Counter("postroom_messages_parsed_total", "Full MIME parses finished", ["outcome"])
JOBS_FINISHED = Counter("postroom_jobs_finished_total", "Jobs finished", ["kind", "outcome"])
