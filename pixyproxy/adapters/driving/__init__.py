"""Driving adapters: what calls the application (HTTP, the command line)."""
