"""The identity subgraph's per-request context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from media_gateway.dataloaders.identity import IdentityLoaders
from media_gateway.subgraphs.base import RequestContext
from media_gateway.subgraphs.identity.oauth import OAuthService
from media_gateway.subgraphs.identity.service import IdentityService


def client_address(headers: Mapping[str, str], fallback: str | None = None) -> str | None:
    """The caller's address: the first ``x-forwarded-for`` hop, ``x-real-ip``, or the peer."""
    lowered = {name.lower(): value for name, value in headers.items()}
    forwarded = lowered.get("x-forwarded-for")
    if forwarded:
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    real = (lowered.get("x-real-ip") or "").strip()
    return real[:64] or fallback


@dataclass
class IdentityContext(RequestContext):
    service: IdentityService
    oauth: OAuthService
    loaders: IdentityLoaders

    @property
    def client_address(self) -> str | None:
        return client_address(self.headers)
