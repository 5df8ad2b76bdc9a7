"""Driven adapters: what the application calls through its ports (databases, blob stores,
image models, clocks, metrics)."""
