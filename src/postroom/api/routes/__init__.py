"""One router per area; ``api.http`` mounts them all."""
