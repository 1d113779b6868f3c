"""Webhook safety and signatures, shared by the API (when a subscription is saved) and the notifier.

Targets: `https` only unless `allow_http`; hosts that are, or resolve to, loopback,
private (RFC 1918, IPv6 ULA, CGNAT) addresses are refused unless `allow_private`;
link-local (169.254.0.0/16, fe80::/10, including the cloud metadata addresses),
unspecified, multicast and reserved addresses are refused always.

Signatures (the `generic` format): the header `X-Secmonkey-Signature: t=<unix seconds>,v1=<hex>`
where `<hex>` is HMAC-SHA256 with the subscription's secret over `<t>.` followed by the
raw body bytes. A receiver recomputes it, compares in constant time and refuses a
timestamp older than a few minutes (replay).

Beside it, the Standard Webhooks headers (https://www.standardwebhooks.com), so stock
libraries verify and deduplicate: `webhook-id` (the same on every attempt),
`webhook-timestamp` (unix seconds of this attempt) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`). Its key is `standard_key`:
a secret written the Standard Webhooks way (`whsec_` + base64) is that base64 decoded;
any other secret is its UTF-8 bytes, which a library takes as `standard_secret(secret)`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from secmonkey.common.errors import InvalidInput

SIGNATURE_HEADER = "X-Secmonkey-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_ID_HEADER = "X-Secmonkey-Event-Id"
DELIVERY_ID_HEADER = "X-Secmonkey-Delivery"
SIGNATURE_VERSION = "v1"
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
STANDARD_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DEFAULT_TOLERANCE_SECONDS = 300

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services: AWS/GCP/Azure/OpenStack (IPv4 and AWS's IPv6), Alibaba.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
METADATA_HOSTNAMES = frozenset({"metadata.google.internal", "metadata", "instance-data"})
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
# IPv6 forms that carry an IPv4 address, which a translator or the kernel may turn into a
# connection to that IPv4 address (a metadata service, a private network): refused as they
# are, whatever they embed. Python 3.11's `is_global` and `ipv4_mapped` see only some.
IPV4_EMBEDDING = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "64:ff9b::/96",  # NAT64, well-known prefix (RFC 6052)
        "64:ff9b:1::/48",  # NAT64, local-use prefix (RFC 8215)
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT, RFC 2765)
        "::/96",  # IPv4-compatible (deprecated)
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
    )
)


def refused_address_reason(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and not (
        address.is_loopback or address.is_unspecified
    ):
        for network in IPV4_EMBEDDING:
            if address in network:
                embedded = address.sixtofour or ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
                inner = refused_address_reason(embedded, allow_private=False)
                return f"{address} embeds the IPv4 address {embedded} ({network})" + (
                    f": {inner}" if inner else ""
                )
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud instance-metadata address"
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_loopback:
        return None if allow_private else f"{address} is a loopback address"
    if any(address.version == n.version and address in n for n in _PRIVATE_NETWORKS):
        return None if allow_private else f"{address} is a private address"
    if not address.is_global:
        return f"{address} is a reserved, not globally routable address"
    return None


def parse_webhook_url(url: str, *, allow_http: bool) -> SplitResult:
    """Check the URL's shape (scheme, host, no credentials); return it split."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("a webhook URL is required")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"invalid webhook URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise InvalidInput(f"webhook URL must use https, not {scheme or 'no scheme'!r}")
    if scheme == "http" and not allow_http:
        raise InvalidInput(
            "webhook URL must use https; plain http is refused (SECMONKEY_WEBHOOK_ALLOW_HTTP)"
        )
    if not parts.hostname:
        raise InvalidInput("webhook URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("webhook URL must not carry credentials (user:password@)")
    if port == 0:
        raise InvalidInput("webhook URL has port 0")
    return parts


def check_host(host: str, *, allow_private: bool) -> IPAddress | None:
    """Refuse a host that names a forbidden address literally; return the address if literal."""
    name = host.strip("[]").lower().rstrip(".")
    if name in METADATA_HOSTNAMES:
        raise InvalidInput(f"webhook target {name} is a cloud instance-metadata host")
    if (name == "localhost" or name.endswith(".localhost")) and not allow_private:
        raise InvalidInput(f"webhook target {name} is a loopback host")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    reason = refused_address_reason(address, allow_private=allow_private)
    if reason:
        raise InvalidInput(f"webhook target refused: {reason}")
    return address


def check_addresses(host: str, addresses: Iterable[str], *, allow_private: bool) -> None:
    """Refuse `host` if any address it resolves to is forbidden (no mixed answers)."""
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = refused_address_reason(address, allow_private=allow_private)
        if reason:
            raise InvalidInput(f"webhook target refused: {host} resolves to {reason}")


def validate_webhook_url(
    url: str, *, allow_http: bool = False, allow_private: bool = False, resolve: bool = True
) -> None:
    """Refuse a webhook URL the notifier must not call; `InvalidInput` says why.

    With `resolve` the host name is looked up (blocking) and every address checked; the
    notifier checks again at connection time, so a name that later resolves elsewhere
    (DNS rebinding) is still refused.
    """
    parts = parse_webhook_url(url, allow_http=allow_http)
    host = parts.hostname or ""
    if check_host(host, allow_private=allow_private) is not None or not resolve:
        return
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise InvalidInput(f"webhook host {host} does not resolve: {exc}") from None
    check_addresses(host, (str(info[4][0]) for info in infos), allow_private=allow_private)


def redact_url(url: str) -> str:
    """Scheme, host and port only: webhook paths and queries often are the secret."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or "?"
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{netloc}/…"


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `X-Secmonkey-Signature` header value for `body`."""
    if not secret:
        raise InvalidInput("a signing secret is required")
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},{SIGNATURE_VERSION}={_mac(secret, ts, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check a `X-Secmonkey-Signature` header; raise `InvalidInput` unless it is valid and fresh."""
    fields: dict[str, list[str]] = {}
    for part in (header or "").split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise InvalidInput("signature header has no valid timestamp (t=)") from None
    candidates = fields.get(SIGNATURE_VERSION, [])
    if not candidates:
        raise InvalidInput(f"signature header has no {SIGNATURE_VERSION}= signature")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidInput("signature timestamp is outside the tolerance (replayed or clock skew)")
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise InvalidInput("signature does not match")


def standard_key(secret: str) -> bytes:
    """The HMAC key of `webhook-signature`: `whsec_<base64>` decoded, else the secret's UTF-8.

    Secrets made before the Standard Webhooks headers (any string) keep working: their
    key is their bytes, exactly as for `X-Secmonkey-Signature`.
    """
    if not secret:
        raise InvalidInput("a signing secret is required")
    if secret.startswith(STANDARD_SECRET_PREFIX):
        encoded = secret[len(STANDARD_SECRET_PREFIX) :]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if key:
            return key
    return secret.encode()


def standard_secret(secret: str) -> str:
    """The secret as a Standard Webhooks library takes it: `whsec_` + base64 of the key."""
    return STANDARD_SECRET_PREFIX + base64.b64encode(standard_key(secret)).decode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    mac = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(mac).decode()}"


def signature_headers(
    secret: str, message_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """Every signature header of one attempt, with one timestamp: ours and Standard Webhooks'."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        SIGNATURE_HEADER: sign(secret, body, ts),
        STANDARD_ID_HEADER: message_id,
        STANDARD_TIMESTAMP_HEADER: str(ts),
        STANDARD_SIGNATURE_HEADER: standard_signature(secret, message_id, ts, body),
    }
