"""Rule usage from VPC flow logs: read S3 objects or CloudWatch Logs events of each
account's configured places, attribute every accepted inbound flow the interface did not
initiate to the rules of its groups that allow it, and keep per rule and day the hits,
the last use and the sources (see the collector README, "Rule usage")."""
