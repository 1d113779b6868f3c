"""Where notices go: email over SMTP, and webhooks in the generic, Slack and Teams formats."""
