"""Tenants, users, roles, API keys and tokens."""
