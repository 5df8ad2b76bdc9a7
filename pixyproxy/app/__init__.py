"""Use cases, settings and the composition root."""
