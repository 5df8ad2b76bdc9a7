"""What the core needs from the outside world, in domain types only."""
