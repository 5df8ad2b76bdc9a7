"""The pure core: image models, value rules and the exception tree.

Standard library and pydantic only."""
