"""One module per revision, `NNNN_short_name.py` with revision id "NNNN", each with an upgrade
and a downgrade that work on SQLite and MySQL/MariaDB. Alembic skips this file."""
