"""Sending: the send API service, templates, the delivery queue, transports, suppression and tracking."""
