"""Where a request came from: the peer's address, or the client a trusted proxy names.

`X-Forwarded-For` and `Forwarded` are believed only when the peer is one of
`SECMONKEY_TRUSTED_PROXIES` (CIDRs): anyone else could write any address there and dodge
the per-address sign-in limits or forge the audit log's "from where". Through a chain of
trusted proxies the client is the right-most address that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FOR = re.compile(r'for=(?:"?\[?)([^;,"\]]+)', re.IGNORECASE)


def parse_proxies(text: str) -> list[Network]:
    """`10.0.0.0/8, 192.0.2.7` → networks; a bad entry is a ValueError naming it."""
    networks: list[Network] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"SECMONKEY_TRUSTED_PROXIES: {part!r} is not an address or CIDR"
            ) from None
    return networks


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in proxies)


def _forwarded_chain(request: Request) -> list[str]:
    """The addresses the proxies added, client first (RFC 7239 `Forwarded` wins)."""
    forwarded = request.headers.get("forwarded")
    if forwarded:
        return _FOR.findall(forwarded)
    header = request.headers.get("x-forwarded-for")
    return [part.strip() for part in header.split(",")] if header else []


def client_address(request: Request, proxies: Sequence[Network]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy."""
    peer = request.client.host if request.client else "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    chain = _forwarded_chain(request)[:32]
    for hop in reversed(chain):
        if not _trusted(hop, proxies):
            ip = _ip(hop)
            return str(ip) if ip is not None else peer
    return peer if not chain else str(_ip(chain[0]) or peer)


def address_of(request: Request) -> str:
    """The client's address under the app's `trusted_proxies` setting (parsed once)."""
    state = request.app.state
    proxies: list[Network] | None = getattr(state, "trusted_proxies", None)
    if proxies is None:
        proxies = parse_proxies(getattr(state.settings, "trusted_proxies", ""))
        state.trusted_proxies = proxies
    return client_address(request, proxies)
