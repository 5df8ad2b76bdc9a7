"""pixyproxy: a self-hostable image-generation gateway."""
