"""One module per revision, `NNNN_short_name.py` with revision id "NNNN" (Alembic skips this
file). To add one:

- `revision = "NNNN"` (the next number) and `down_revision` = the current head's id;
- `upgrade()` and `downgrade()` with `alembic.op`, working on SQLite and MySQL/MariaDB: what
  SQLite cannot ALTER in place (dropping or changing a column, adding a constraint) goes in
  `with op.batch_alter_table(...)`, which MySQL runs as plain ALTERs;
- columns from `column_types` (the same types `tables` uses), never from `tables` itself: a
  revision must keep doing what it did when it shipped, whatever `tables` says later;
- then the same change in `tables`, and `make sql`. The schema tests check that the revisions
  build exactly what `tables` defines, undo cleanly, and match the committed sql/ scripts.

Run them only through `SqlSchemaMigrator` (or `pixyproxy db upgrade`): it takes the lock, and
on SQLite turns foreign keys off, without which a batch rebuild of a parent table would
cascade its DROP into the children.
"""
