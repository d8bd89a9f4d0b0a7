"""HTTP: REST routes under /api/v1, the live event stream, health and metrics."""
