"""Reading an AWS organization: every account (`ListAccounts`, every page) and its tags
(`ListTagsForResource`, every page), and how tags become secmonkey labels.

Tags to labels:

- the tag named by `SECMONKEY_ORGANIZATION_LABELS_TAG` (default `secmonkey:labels`) holds a
  list of labels separated by commas or spaces: `pci, prod` gives `pci` and `prod`;
- each tag whose key is in `SECMONKEY_ORGANIZATION_LABEL_TAG_KEYS` gives `<key>:<value>`:
  with `environment` listed, `environment=Production` gives `environment:production`;
- every other tag is ignored. Labels are lower-cased, characters other than letters,
  digits and `_ . : = -` become `-`, each is cut to 64 characters, at most 50 are kept.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from secmonkey.collector.settings import Settings

log = logging.getLogger(__name__)

# Organizations' `State` (newer) or `Status` (older): which ones mean "monitor it".
ACTIVE = "ACTIVE"
CLOSING = frozenset({"SUSPENDED", "PENDING_CLOSURE", "CLOSED"})
# Every call discovery makes: deploy/iam/secmonkey-organization-policy.json allows exactly these.
OPERATIONS = ("DescribeOrganization", "ListAccounts", "ListTagsForResource")
MAX_LABELS = 50
MAX_LABEL_LENGTH = 64
_NOT_LABEL = re.compile(r"[^a-z0-9_.:=-]+")


@dataclass(frozen=True)
class OrgAccount:
    """One account as the organization lists it."""

    id: str
    name: str
    status: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def closing(self) -> bool:
        return self.status in CLOSING


def clean_label(text: str) -> str:
    return _NOT_LABEL.sub("-", text.strip().lower()).strip("-")[:MAX_LABEL_LENGTH]


def labels_from_tags(tags: dict[str, str], settings: Settings) -> list[str]:
    """The labels an account's tags give (see the module docstring), sorted, unique."""
    labels: set[str] = set()
    listed = tags.get(settings.organization_labels_tag, "")
    labels.update(clean_label(part) for part in re.split(r"[,\s]+", listed))
    for key in settings.organization_label_tag_keys:
        if tags.get(key):
            labels.add(clean_label(f"{key}:{tags[key]}"))
    labels.discard("")
    return sorted(labels)[:MAX_LABELS]


def account_tags(client: Any, account_id: str) -> dict[str, str]:
    """Every tag of one account, following the NextToken chain to its end."""
    tags: dict[str, str] = {}
    paginator = client.get_paginator("list_tags_for_resource")
    for page in paginator.paginate(ResourceId=account_id):
        for tag in page.get("Tags", []):
            tags[str(tag["Key"])] = str(tag.get("Value", ""))
    return tags


def list_accounts(client: Any) -> list[OrgAccount]:
    """Every account of the organization with its tags; raises if any page fails, so a
    partial list is never taken for the whole organization (and, first, if the
    credentials' account is in no organization: AWSOrganizationsNotInUseException)."""
    organization = client.describe_organization()["Organization"]
    log.info("reading organization %s", organization.get("Id"))
    found: list[OrgAccount] = []
    for page in client.get_paginator("list_accounts").paginate():
        for entry in page.get("Accounts", []):
            account_id = str(entry["Id"])
            found.append(
                OrgAccount(
                    id=account_id,
                    name=str(entry.get("Name") or account_id),
                    status=str(entry.get("State") or entry.get("Status") or ""),
                    tags=account_tags(client, account_id),
                )
            )
    return found
