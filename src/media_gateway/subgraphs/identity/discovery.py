"""The identity service as an OAuth 2.0 authorization server, described for clients that
discover it (RFC 8414): where to authorize, exchange and register, which grants, scopes and
PKCE method it supports. MCP clients find it through the protected resource metadata of the
gateway's MCP endpoint, which names this issuer.

The issuer is ``OAUTH_ISSUER`` (by default ``PUBLIC_URL``: in the embedded mode the gateway
serves these endpoints itself); every endpoint is under it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from media_gateway.auth.scopes import DELEGABLE_SCOPES
from media_gateway.platform.settings import Settings
from media_gateway.subgraphs.identity.oauth import DEVICE_CODE_GRANT

METADATA_PATH = "/.well-known/oauth-authorization-server"
OPENID_PATH = "/.well-known/openid-configuration"


def metadata_paths(settings: Settings) -> list[str]:
    """Where the metadata is served: the well-known paths, and for an issuer with a path
    component the path-inserted form RFC 8414 3.1 prescribes."""
    path = urlsplit(settings.oauth_issuer_url).path.rstrip("/")
    paths = [METADATA_PATH, OPENID_PATH]
    if path:
        paths += [f"{METADATA_PATH}{path}", f"{OPENID_PATH}{path}"]
    return paths


def authorization_server_metadata(settings: Settings) -> dict[str, Any]:
    issuer = settings.oauth_issuer_url
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "device_authorization_endpoint": f"{issuer}/oauth/device_authorization",
        "registration_endpoint": f"{issuer}/oauth/register",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "scopes_supported": sorted(DELEGABLE_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_CODE_GRANT],
        # public and device clients prove themselves with PKCE (or the device code) alone;
        # a confidential client also presents its secret
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
        ],
        "code_challenge_methods_supported": ["S256"],
    }
