"""Adapters: driven ones (sql, memory, disk, S3, generators) and driving ones (web, cli)."""
