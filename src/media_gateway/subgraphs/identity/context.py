"""The identity subgraph's per-request context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from media_gateway.dataloaders.identity import IdentityLoaders
from media_gateway.schema.context import RequestContext
from media_gateway.subgraphs.identity.oauth import OAuthService
from media_gateway.subgraphs.identity.service import IdentityService


def client_address(headers: Mapping[str, str]) -> str | None:
    """The caller's address, as the service's HTTP layer (or, in process, the gateway) put it
    in ``x-forwarded-for`` after applying the trusted-proxy rule (``TRUSTED_PROXIES``)."""
    for name, value in headers.items():
        if name.lower() == "x-forwarded-for":
            return value.split(",")[-1].strip()[:64] or None
    return None


@dataclass
class IdentityContext(RequestContext):
    service: IdentityService
    oauth: OAuthService
    loaders: IdentityLoaders

    @property
    def client_address(self) -> str | None:
        return client_address(self.headers)
