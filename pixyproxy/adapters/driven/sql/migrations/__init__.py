"""Alembic migrations of pixyproxy's schema; `schema_migrator` runs them, `make sql` renders
them as the administrators' scripts. `env.py` and `versions/` are loaded by Alembic by path."""
