"""Every collection: the service that owns it (the only one that writes it, except
through the named functions in `secmonkey.common` listed beside it) and its indexes.

Another service that must change an owner's collection calls a function that lives in
`secmonkey.common` and is tested with the owner's code; reading another service's
collection goes through named functions too; `readers` lists the other services that read
it (checked against the code by tests/unit/common/test_collection_owners.py).
`secmonkey admin provision` derives each service's database role from this table
(`secmonkey.common.provision.mongo_roles`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pymongo import ASCENDING, DESCENDING, IndexModel

Service = Literal["collector", "auditor", "notifier", "api"]


@dataclass(frozen=True)
class Collection:
    owner: Service
    indexes: list[IndexModel] = field(default_factory=list)
    # (service, `secmonkey.common` function): how another service writes this collection
    shared_writes: tuple[tuple[Service, str], ...] = ()
    about: str = ""
    # the other services that read it (directly or through `secmonkey.common`)
    readers: tuple[Service, ...] = ()


COLLECTIONS: dict[str, Collection] = {
    "accounts": Collection(
        "api",
        [IndexModel([("enabled", ASCENDING)])],
        shared_writes=(("collector", "accounts.upsert_accounts"),),
        about="monitored and trusted accounts (the collector seeds them from its file)",
        readers=("collector", "auditor", "notifier"),
    ),
    "items": Collection(
        "auditor",
        [
            IndexModel([("account_id", ASCENDING), ("region", ASCENDING), ("state", ASCENDING)]),
            IndexModel([("group_id", ASCENDING)]),
            IndexModel([("name_lower", ASCENDING)]),
            IndexModel([("vpc_id", ASCENDING)]),
            IndexModel([("ranges.lo", ASCENDING)]),
            IndexModel([("max_severity_rank", DESCENDING)]),
        ],
        shared_writes=(("api", "issue_counters.recount"),),
        readers=("api", "collector"),
    ),
    "revisions": Collection(
        "auditor",
        [
            IndexModel([("key", ASCENDING), ("seq", ASCENDING)], unique=True),
            IndexModel(
                [("key", ASCENDING), ("fingerprint", ASCENDING), ("observed_at", ASCENDING)],
                unique=True,
            ),
            IndexModel([("key", ASCENDING), ("observed_at", ASCENDING)]),
        ],
        readers=("api", "collector", "notifier"),
    ),
    "issues": Collection(
        "auditor",
        [
            IndexModel([("key", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("severity_rank", DESCENDING)]),
            IndexModel([("account_id", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("rule_id", ASCENDING), ("status", ASCENDING)]),
        ],
        shared_writes=(
            ("api", "justifications.justify"),
            ("api", "justifications.withdraw"),
            ("api", "change_reviews.decide"),
        ),
        readers=("api", "collector", "notifier"),
    ),
    "events": Collection(
        "auditor",
        [
            IndexModel([("event_id", ASCENDING)], unique=True),
            IndexModel([("at", DESCENDING)]),
            IndexModel([("type", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("account_id", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("key", ASCENDING), ("at", DESCENDING)]),
        ],
        shared_writes=(("api", "event_feed.append"), ("collector", "event_feed.append")),
        about="the change and issue feed (the API appends issue.justified, the collector's "
        "watchdog system.* events)",
        readers=("api", "collector"),
    ),
    "outbox": Collection("auditor", about="events stored but not yet published"),
    "deletion_holds": Collection(
        "auditor", about="per account-region: sweep deletions held until a second sweep"
    ),
    # `_id`-keyed lookups of the search index (secmonkey.common.search_index), read by `_id`.
    "rule_ranges": Collection("auditor", readers=("api",)),
    "rule_postings": Collection("auditor", readers=("api",)),
    "rule_marks": Collection(
        "auditor",
        about="a token per account-region's postings and for the range directory, set anew "
        "after each write to them (the API keeps what it read while they stand)",
        readers=("api",),
    ),
    "group_ids": Collection("auditor", readers=("api",)),
    "rule_catalog": Collection(
        "auditor",
        about="every audit rule's title, severity and compliance tags (at start)",
        readers=("api", "collector"),
    ),
    "topologies": Collection(
        "auditor", about="the latest network topology of each account-region (exposure)"
    ),
    "exposures": Collection(
        "auditor",
        [
            IndexModel([("key", ASCENDING)]),
            IndexModel([("account_id", ASCENDING), ("region", ASCENDING)]),
            IndexModel([("from_port", ASCENDING), ("to_port", ASCENDING)]),
        ],
        about="exposed endpoints: one per group, endpoint, rule and port range",
        readers=("api",),
    ),
    "exposure_state": Collection("auditor", about="each group's filed exposure digest"),
    "subscriptions": Collection(
        "api", [IndexModel([("enabled", ASCENDING)])], readers=("notifier",)
    ),
    "allowlist": Collection("api", readers=("auditor",)),
    # Change control (issue 17): scopes, reviews, the hash chains and their anchors.
    "scopes": Collection(
        "api",
        about="compliance scopes (secmonkey.common.compliance_scopes)",
        readers=("auditor",),
    ),
    "change_reviews": Collection(
        "auditor",
        [
            IndexModel([("status", ASCENDING), ("deadline", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("observed_at", DESCENDING)]),
            IndexModel([("key", ASCENDING), ("seq", ASCENDING)]),
        ],
        shared_writes=(("api", "change_reviews.decide"),),
        about="one review per revision of an in-scope group; the API records decisions",
        readers=("api",),
    ),
    "review_chain": Collection(
        "auditor",
        [
            IndexModel([("key", ASCENDING), ("n", ASCENDING)], unique=True),
            IndexModel([("review_id", ASCENDING)], unique=True),
        ],
        shared_writes=(("api", "change_reviews.decide"),),
        about="immutable, hash-chained review decisions (`_id` `<key>:<n>`)",
        readers=("api",),
    ),
    "chain_genesis": Collection(
        "auditor",
        about="per group, the record sealing its history from before the chain",
        readers=("api",),
    ),
    "chain_anchors": Collection(
        "auditor",
        [IndexModel([("at", DESCENDING)])],
        shared_writes=(("api", "chain_anchor.anchor"),),
        about="every chain head hashed into a root, daily and on demand",
        readers=("api",),
    ),
    "issue_summaries": Collection(
        "auditor",
        [IndexModel([("account_id", ASCENDING)])],
        about="open-issue counters per account-region (issue_counters), summed by reports",
        readers=("api",),
    ),
    "place_rosters": Collection(
        "auditor",
        about="the group ids of each account-region, read by _id (place_rosters)",
        readers=("api",),  # a marked place's open issues, for the full report
    ),
    "place_issues": Collection(
        "auditor",
        shared_writes=(("api", "place_rosters.log_issue"),),
        about="issues of an account-region that no item lists (a rejected review's)",
        readers=("api",),
    ),
    "issue_rows": Collection(
        "auditor",
        [IndexModel([("account_id", ASCENDING)])],
        about="each account-region's open issues packed in report order (issue_counters)",
        readers=("api",),
    ),
    "issue_summary_marks": Collection(
        "auditor",
        shared_writes=(("api", "issue_counters.mark_summary"),),
        about="account-regions whose summary the partition holder must recompute",
        readers=("api",),  # the full report reads a marked place afresh
    ),
    "auditor_leases": Collection(
        "auditor", about="which replica holds each snapshot partition, and maintenance"
    ),
    "auditor_members": Collection("auditor", about="each auditor replica's heartbeat"),
    "rule_range_locks": Collection(
        "auditor", about="mutexes (unique inserts) of range-directory additions on FerretDB"
    ),
    "api_keys": Collection("api", [IndexModel([("hash", ASCENDING)], unique=True)]),
    "api_outbox": Collection(
        "api",
        [IndexModel([("at", ASCENDING)])],
        about="the API's messages (sweep requests, issue.justified) stored until published",
    ),
    "api_outbox_claims": Collection(
        "api", [IndexModel([("at", ASCENDING)])], about="which replica republishes, per period"
    ),
    "audit_log": Collection(
        "api",
        [
            IndexModel([("at", DESCENDING)]),
            IndexModel([("action", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("actor.id", ASCENDING), ("at", DESCENDING)]),
        ],
        about="every change made through the API or console, append-only (who, what, "
        "before/after, when, from where)",
    ),
    "auth_failures": Collection(
        "api",
        [IndexModel([("window_end", ASCENDING)])],
        about="failed sign-ins per key, user and client address, one document per window",
    ),
    "console_sessions": Collection(
        "api",
        [IndexModel([("key_id", ASCENDING)]), IndexModel([("expires_at", ASCENDING)])],
        about="console sign-ins, checked on every page and ended server-side",
    ),
    "deliveries": Collection(
        "notifier",
        [
            IndexModel([("event_id", ASCENDING), ("subscription_id", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("subscription_id", ASCENDING), ("at", DESCENDING)]),
        ],
        readers=("api",),
    ),
    "delivery_schedule": Collection(
        "notifier",
        [IndexModel([("due_at", ASCENDING)])],
        shared_writes=(("api", "delivery_schedule.schedule"),),
        about="the notifier's outbox",
    ),
    "delivery_claims": Collection("notifier", [IndexModel([("at", ASCENDING)])]),
    "digests": Collection(
        "notifier",
        [
            IndexModel([("subscription_id", ASCENDING), ("due_at", ASCENDING)]),
            IndexModel([("due_at", ASCENDING)]),
        ],
    ),
    "digest_claims": Collection(
        "notifier", [IndexModel([("claim", ASCENDING)]), IndexModel([("at", ASCENDING)])]
    ),
    "sweeps": Collection(
        "collector",
        [IndexModel([("sweep_id", ASCENDING)]), IndexModel([("started_at", DESCENDING)])],
        shared_writes=(("api", "sweep_requests.request_sweep"),),
        readers=("api",),
    ),
    "leases": Collection("collector"),
    "schedules": Collection("collector"),
    "schedule_claims": Collection("collector"),
    "collector_outbox": Collection(
        "collector",
        [IndexModel([("at", ASCENDING)])],
        about="the scheduler's sweep requests stored until RabbitMQ confirmed them",
    ),
    "collector_outbox_claims": Collection(
        "collector",
        [IndexModel([("at", ASCENDING)])],
        about="which replica republishes, per period",
    ),
    "discovery_requests": Collection(
        "collector",
        [IndexModel([("status", ASCENDING)])],
        shared_writes=(("api", "discovery_requests.request_discovery"),),
        about="`secmonkey accounts discover` requests and their outcome",
        readers=("api",),
    ),
    "organization_accounts": Collection(
        "collector", about="what organization discovery did to each account (and its unsent events)"
    ),
    "event_marks": Collection("collector", about="the latest CloudTrail call seen per group"),
    "watchdog": Collection(
        "collector", about="each system condition's state and episodes (and its unsent events)"
    ),
    "flowlog_checkpoints": Collection(
        "collector",
        [IndexModel([("scope", ASCENDING), ("state", ASCENDING)])],
        about="flow-log reading: each scope's start, the units read per day, journalled batches",
    ),
    "rule_usage_summary": Collection(
        "collector",
        [IndexModel([("account_id", ASCENDING), ("region", ASCENDING)])],
        readers=("api",),
        about="per group, each ingress rule's use from VPC flow logs (secmonkey.common.rule_usage)",
    ),
    "consumer_reports": Collection(
        "collector",
        [IndexModel([("reported_at", ASCENDING)])],
        shared_writes=(
            ("auditor", "consumer_reports.report"),
            ("auditor", "consumer_reports.withdraw"),
            ("notifier", "consumer_reports.report"),
            ("notifier", "consumer_reports.withdraw"),
        ),
        about="each process's consumers (ready, or the trouble they wait out), for the watchdog",
    ),
}

INDEXES: dict[str, list[IndexModel]] = {name: c.indexes for name, c in COLLECTIONS.items()}


def owned_by(service: Service) -> set[str]:
    """The collections `service` owns."""
    return {name for name, c in COLLECTIONS.items() if c.owner == service}


def read_by(service: Service) -> set[str]:
    """The collections of other services that `service` reads."""
    return {name for name, c in COLLECTIONS.items() if service in c.readers}


def written_through_common(service: Service) -> set[str]:
    """The collections of other services that `service` writes through `common` functions."""
    return {
        name
        for name, c in COLLECTIONS.items()
        if any(writer == service for writer, _ in c.shared_writes)
    }
