"""Postroom: one self-hosted service that catches, sends, syncs, understands and automates email."""

__version__ = "0.1.0"
