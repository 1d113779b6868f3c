"""Single sign-on for people (OpenID Connect, authorization code with PKCE, `authlib`).

The console sends the browser to the provider with a fresh `state`, `nonce` and PKCE
verifier kept in a short-lived signed cookie; on the way back the code is exchanged (with
the verifier), the ID token's signature (the provider's JWKS), issuer, audience, expiry and
nonce are checked, and the person's groups (from the ID token, else from userinfo) are
mapped to a role (`SECMONKEY_OIDC_ROLE_MAP`). API keys stay for machines.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.jose import JsonWebKey, jwt
from authlib.jose.errors import JoseError

from secmonkey.api.auth import Principal
from secmonkey.api.roles import parse_role_map, role_for_groups
from secmonkey.api.security_settings import SecuritySettings

DISCOVERY_SECONDS = 3600
HTTP_TIMEOUT = 10.0


class SsoError(Exception):
    """The provider's answer could not be used (shown to the person, logged)."""


class NoRole(Exception):
    """Signed in at the provider, but none of the person's groups maps to a role."""

    def __init__(self, who: str, groups: list[str]) -> None:
        super().__init__(f"{who} is in no group that maps to a secmonkey role")
        self.who = who
        self.groups = groups


@dataclass(frozen=True)
class Started:
    url: str
    state: str
    nonce: str
    verifier: str


def configured(settings: SecuritySettings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


class OidcClient:
    """The provider's endpoints (discovered, cached) and the two halves of a sign-in."""

    def __init__(self, settings: SecuritySettings, redirect_uri: str) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        secret = settings.oidc_client_secret
        self.client_secret = secret.get_secret_value() if secret else None
        self.scopes = settings.oidc_scopes
        self.groups_claim = settings.oidc_groups_claim
        self.role_map = parse_role_map(json.loads(settings.oidc_role_map or "{}"))
        self.redirect_uri = redirect_uri
        self._metadata: dict[str, Any] | None = None
        self._fetched = 0.0

    def _oauth(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            timeout=HTTP_TIMEOUT,
        )

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._fetched > DISCOVERY_SECONDS:
            url = f"{self.issuer}/.well-known/openid-configuration"
            self._metadata = await _get_json(url)
            self._fetched = time.monotonic()
        return self._metadata

    async def start(self) -> Started:
        """Where to send the browser, and what the callback must see again."""
        meta = await self.metadata()
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(24)
        async with self._oauth() as oauth:
            url, state = oauth.create_authorization_url(
                meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
            )
        return Started(url=url, state=state, nonce=nonce, verifier=verifier)

    async def finish(self, code: str, verifier: str, nonce: str) -> Principal:
        """Exchange the code, check the ID token, map the groups: the signed-in person."""
        meta = await self.metadata()
        async with self._oauth() as oauth:
            try:
                token = await oauth.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=verifier
                )
            except Exception as exc:  # authlib raises OAuthError and httpx errors alike
                raise SsoError(f"the provider refused the code: {exc}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SsoError("the provider answered without an ID token")
        claims = await self._claims(meta, id_token, nonce)
        groups = claims.get(self.groups_claim)
        if groups is None and meta.get("userinfo_endpoint"):
            info = await _get_json(
                meta["userinfo_endpoint"],
                headers={"Authorization": f"Bearer {token.get('access_token', '')}"},
            )
            groups = info.get(self.groups_claim)
        names = [str(g) for g in groups] if isinstance(groups, list) else []
        who = str(claims.get("email") or claims.get("preferred_username") or claims["sub"])
        role = role_for_groups(names, self.role_map)
        if role is None:
            raise NoRole(who, names)
        return Principal(key_id=f"sso:{claims['sub']}"[:200], name=who[:200], role=role, user=True)

    async def _claims(self, meta: dict[str, Any], id_token: str, nonce: str) -> dict[str, Any]:
        keys = JsonWebKey.import_key_set(await _get_json(meta["jwks_uri"]))
        options = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "nonce": {"essential": True, "value": nonce},
            "sub": {"essential": True},
            "exp": {"essential": True},
        }
        try:
            claims = jwt.decode(id_token, keys, claims_options=options)
            claims.validate(leeway=60)
        except JoseError as exc:
            raise SsoError(f"the ID token was refused: {exc}") from None
        return dict(claims)


async def _get_json(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            answer = await http.get(url, headers=headers)
            answer.raise_for_status()
            data = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SsoError(f"the provider did not answer {url}: {exc}") from None
    if not isinstance(data, dict):
        raise SsoError(f"the provider's {url} is not a JSON object")
    return data
