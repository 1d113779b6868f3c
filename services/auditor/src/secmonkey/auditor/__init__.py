"""secmonkey auditor: history, change detection, audit rules, issues and events."""
