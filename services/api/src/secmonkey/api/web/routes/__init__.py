"""The console's pages, one router module per area."""
