"""One router module per resource, gathered in `secmonkey.api.main`."""
