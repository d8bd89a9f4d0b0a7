"""Shared machinery: ingest, the event log and the job queue."""
