"""The FastAPI driving adapter: routes parse, call one use case, render."""
