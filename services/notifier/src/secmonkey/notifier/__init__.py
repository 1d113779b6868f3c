"""secmonkey notifier: routes change and issue events to email and webhooks (see README.md)."""
