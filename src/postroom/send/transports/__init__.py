"""Transports that speak SMTP or write into Postroom itself (HTTP providers live in ``send.providers``)."""
