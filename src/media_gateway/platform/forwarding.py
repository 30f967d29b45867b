"""Client addresses behind proxies: forwarded headers count only from trusted proxies.

``TRUSTED_PROXIES`` names the proxies (addresses, CIDR ranges, or ``loopback`` /
``private``) whose forwarded header is believed; ``TRUSTED_PROXY_HEADER`` says which header
they write (``x-forwarded-for``, the default, or RFC 7239 ``forwarded``). The client is found
by walking the chain from the nearest hop outwards: the TCP peer first, then each hop the
trusted proxies appended, stopping at the first address that is not a trusted proxy. With no
trusted proxies (the default) the peer is the client and forwarded headers are ignored, so
nobody can choose the address they are counted under by sending a header.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

HEADERS = ("x-forwarded-for", "forwarded")
_NAMED: dict[str, tuple[str, ...]] = {
    "loopback": ("127.0.0.0/8", "::1/128"),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
    "link-local": ("169.254.0.0/16", "fe80::/10"),
}


class TrustedProxiesError(ValueError):
    """An entry of ``TRUSTED_PROXIES`` that is neither an address, a range nor a name."""


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()
    header: str = "x-forwarded-for"

    @classmethod
    def parse(
        cls, entries: Iterable[str] | str | None, header: str | None = None
    ) -> TrustedProxies:
        """``entries``: addresses, CIDR ranges or names (``loopback``, ``private``,
        ``link-local``), as a list or one comma- or space-separated string."""
        if entries is None:
            entries = ()
        if isinstance(entries, str):
            entries = entries.replace(",", " ").split()
        networks: list[Network] = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            for text in _NAMED.get(entry, (entry,)):
                try:
                    networks.append(ipaddress.ip_network(text, strict=False))
                except ValueError as exc:
                    raise TrustedProxiesError(
                        f"TRUSTED_PROXIES: {entry!r} is not an address, a CIDR range or one of "
                        + ", ".join(sorted(_NAMED))
                    ) from exc
        name = (header or "x-forwarded-for").strip().lower()
        if name not in HEADERS:
            raise TrustedProxiesError(
                f"TRUSTED_PROXY_HEADER: {name!r} is not one of " + ", ".join(HEADERS)
            )
        return cls(tuple(networks), name)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TrustedProxies:
        """``TRUSTED_PROXIES`` and ``TRUSTED_PROXY_HEADER``, read the same way by the gateway
        and every subgraph. An entry that cannot be read is left out, with an error logged."""
        env = os.environ if env is None else env
        entries = (env.get("TRUSTED_PROXIES") or "").replace(",", " ").split()
        header = (env.get("TRUSTED_PROXY_HEADER") or "").strip() or None
        try:
            header = cls.parse((), header).header
        except TrustedProxiesError as exc:
            log.error("%s; using x-forwarded-for", exc)
            header = None
        kept: list[str] = []
        for entry in entries:
            try:
                cls.parse([entry])
            except TrustedProxiesError as exc:
                log.error("%s; left out", exc)
            else:
                kept.append(entry)
        return cls.parse(kept, header)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str | None) -> bool:
        if not self.networks:  # no proxy is trusted: nothing to parse
            return False
        parsed = _address(address)
        if parsed is None:
            return False
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        return any(parsed in network for network in self.networks)

    def client_address(self, peer: str | None, headers: Mapping[str, str]) -> str | None:
        """The client's address: ``peer`` unless it is a trusted proxy, else the nearest hop
        of the forwarded chain that is not one."""
        if peer is None or not self.trusts(peer):
            return peer
        chain = _chain(headers, self.header)
        client = peer
        for hop in reversed(chain):
            if _address(hop) is None:  # garbage in the header: stop at the last known hop
                return client
            client = hop
            if not self.trusts(hop):
                return client
        return client


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
        return ""
    return value


def _chain(headers: Mapping[str, str], header: str) -> list[str]:
    """The hops a proxy chain recorded, nearest last (ports and brackets removed)."""
    raw = _header(headers, header)
    if not raw:
        return []
    if header == "x-forwarded-for":
        return [_bare(hop) for hop in raw.split(",")]
    hops = []
    for element in raw.split(","):
        value = ""
        for pair in element.split(";"):
            name, _, text = pair.strip().partition("=")
            if name.strip().lower() == "for":
                value = text.strip().strip('"')
        hops.append(_bare(value))
    return hops


def _bare(hop: str) -> str:
    """``1.2.3.4:5678`` -> ``1.2.3.4``; ``[2001:db8::1]:80`` -> ``2001:db8::1``."""
    hop = hop.strip()
    if hop.startswith("["):
        return hop[1 : hop.find("]")] if "]" in hop else ""
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop
