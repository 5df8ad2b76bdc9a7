"""Use cases and settings; they speak to the outside world through ports only."""
