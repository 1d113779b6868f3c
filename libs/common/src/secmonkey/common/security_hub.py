"""An account's opt-in to sending its findings to AWS Security Hub (as ASFF).

Off unless the account names its writer role: a role in that very account, separate from
the read-only monitoring role (deploy/iam `writer-role.yaml`), that the collector assumes
with the account's ExternalId to call `securityhub:BatchImportFindings` there.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import Region

ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$"


class SecurityHubExport(BaseModel):
    """Where and how an account's findings go to Security Hub."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    role_arn: str = Field(
        max_length=600,
        pattern=ROLE_ARN_PATTERN,
        description="the account's opt-in writer role (not the read-only monitoring role)",
    )
    region: Region | None = Field(
        default=None,
        description="import every finding into this region (Security Hub's home region); "
        "null: each group's own region",
    )


def role_account(role_arn: str) -> str:
    return role_arn.split(":")[4]


def check_writer_role(account_id: str, export: SecurityHubExport | None) -> None:
    """Refuse a writer role of another account: findings are sent from their own account."""
    if export is None:
        return
    owner = role_account(export.role_arn)
    if owner != account_id:
        raise InvalidInput(
            f"security_hub.role_arn belongs to account {owner}, not {account_id}: each "
            "account's findings are imported through a writer role in that account"
        )
