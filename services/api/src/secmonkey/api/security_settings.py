"""The API's security settings: trusted proxies, sign-in limits, single sign-on (OIDC)."""

from __future__ import annotations

import json

from pydantic import Field, SecretStr, field_validator

from secmonkey.api.client_address import parse_proxies
from secmonkey.common.settings import CommonSettings


class SecuritySettings(CommonSettings):
    """Mixed into the API's `Settings`."""

    trusted_proxies: str = Field(
        default="",
        description="CIDRs of the proxies whose X-Forwarded-For / Forwarded headers are "
        "believed (comma-separated); unset: the peer's address is the client's",
    )
    auth_failure_window_seconds: int = Field(
        default=300, ge=10, le=86_400, description="the fixed window failed sign-ins are counted in"
    )
    auth_failures_per_key: int = Field(
        default=10,
        ge=1,
        description="failed sign-ins of one key or user per window before 429",
    )
    auth_failures_per_address: int = Field(
        default=50,
        ge=1,
        description="failed sign-ins from one client address per window before 429",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="the OpenID Connect issuer URL of console single sign-on; unset: no SSO",
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile groups"
    oidc_groups_claim: str = Field(
        default="groups", description="the ID-token/userinfo claim listing the user's groups"
    )
    oidc_role_map: str = Field(
        default="{}",
        description='groups → roles, JSON: {"secops": "admin", "auditors": "auditor", '
        '"staff": "viewer"}; a user gets the highest role of their groups, none: refused',
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        parse_proxies(value)
        return value

    @field_validator("oidc_role_map")
    @classmethod
    def _role_map(cls, value: str) -> str:
        from secmonkey.api.roles import parse_role_map

        parse_role_map(json.loads(value or "{}"))
        return value
