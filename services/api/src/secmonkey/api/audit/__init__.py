"""The audit log: every change made through the API or the console, who made it, from where.

`trail.Trail` records an entry (append-only `audit_log`) and its `admin.*` event (the
event feed and RabbitMQ, through the API's outbox so nothing is lost while the broker is
down); `actions` holds the audited operations the REST routes and the console share;
`entries` reads the log back (pages, filters, CSV).
"""
