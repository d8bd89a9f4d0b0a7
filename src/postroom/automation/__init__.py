"""Automation: outgoing webhooks (workflows and plugins join here)."""
