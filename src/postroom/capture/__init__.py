"""Capture: the SMTP server that catches every message, plus release, chaos mode and pruning."""
