"""Who may use the MCP endpoint: `/mcp` as an OAuth 2.0 protected resource (RFC 9728).

The endpoint publishes its protected resource metadata (`/.well-known/oauth-protected-resource`
and the path-suffixed `/.well-known/oauth-protected-resource/mcp`): the resource's URL, the
authorization server that issues tokens for it and the scopes it knows. Each request is
judged by the router's own authenticator (the one `/graphql` uses), so expiry, revocation
and forged tokens are refused exactly as there; on top of that, a bearer token must name this
resource in its audience (RFC 8707: tokens issued for another resource are refused, even
valid ones). An API key is accepted as for any client. A request without credentials gets
`401` with `WWW-Authenticate: Bearer resource_metadata="..."`, which is how an MCP client
discovers where to sign in; in development anonymous callers may use the tools that need no
sign-in (`GATEWAY_MCP_ANONYMOUS`), in production never.

Configuration (the environment):

- `GATEWAY_MCP_RESOURCE_URL` (default `$PUBLIC_URL/mcp`): the endpoint's public URL, the
  resource tokens must be issued for;
- `GATEWAY_MCP_AUTHORIZATION_SERVER` (default `$OAUTH_ISSUER`, else `$PUBLIC_URL`): the
  authorization server's issuer URL;
- `GATEWAY_MCP_SCOPES` (default: those the product passes): the scopes the metadata lists;
- `GATEWAY_MCP_ANONYMOUS` (default on in development; always off in production): callers
  without credentials may use the tools that need no sign-in.

The router knows nothing of the product: these URLs are configuration, never read from the
authorization server's code.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from graphql import DocumentNode
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..authorization import ANONYMOUS, Authenticator, Principal
from ..edge.config import profile
from ..supergraph import Supergraph

log = logging.getLogger("media_gateway.gateway.mcp")

WELL_KNOWN = "/.well-known/oauth-protected-resource"
DEFAULT_PUBLIC_URL = "http://localhost:4000"
# where the verified caller is left for the MCP server (`request.state.mcp_principal`)
STATE_KEY = "mcp_principal"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class McpAuthConfig:
    """`resource`: the MCP endpoint's public URL, which tokens must name in `aud`;
    `authorization_servers`: the issuer URLs of the servers that issue them."""

    resource: str = f"{DEFAULT_PUBLIC_URL}/mcp"
    authorization_servers: tuple[str, ...] = (DEFAULT_PUBLIC_URL,)
    scopes: tuple[str, ...] = ()
    anonymous: bool = False
    resource_name: str = "MCP server"
    documentation: str | None = None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        path: str = "/mcp",
        scopes: Iterable[str] = (),
    ) -> McpAuthConfig:
        """The configuration from the environment; `scopes` are the ones to list when
        `GATEWAY_MCP_SCOPES` names none (the product passes those its server grants)."""
        e = os.environ if env is None else env
        public = (_text(e, "PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")
        resource = _text(e, "GATEWAY_MCP_RESOURCE_URL") or f"{public}{path}"
        server = _text(e, "GATEWAY_MCP_AUTHORIZATION_SERVER") or _text(e, "OAUTH_ISSUER") or public
        listed = _text(e, "GATEWAY_MCP_SCOPES")
        production = profile(e) == "production"
        return cls(
            resource=resource,
            authorization_servers=(server,),
            scopes=tuple(listed.split()) if listed else tuple(sorted(set(scopes))),
            # anonymous use is never allowed in production, whatever the variable says
            anonymous=_bool(e, "GATEWAY_MCP_ANONYMOUS", True) and not production,
        )

    @property
    def metadata_path(self) -> str:
        """The path-suffixed metadata path of the resource (RFC 9728 3.1)."""
        path = urlsplit(self.resource).path.rstrip("/")
        return f"{WELL_KNOWN}{path}"

    @property
    def metadata_url(self) -> str:
        parts = urlsplit(self.resource)
        return f"{parts.scheme}://{parts.netloc}{self.metadata_path}"


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in scope.get("headers") or ():
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def presents_bearer_token(headers: Mapping[str, str]) -> bool:
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def presents_credentials(headers: Mapping[str, str]) -> bool:
    return bool(headers.get("authorization", "").strip() or headers.get("x-api-key", "").strip())


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class McpAuth:
    """The MCP endpoint's protection: its metadata routes, and `protect` around its ASGI app."""

    def __init__(
        self,
        config: McpAuthConfig,
        authenticator: Authenticator | None,
        scopes: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        """`scopes`: the scopes to list when the configuration names none, asked for each
        time (for example `operation_scopes` of the tools offered now)."""
        self.config = config
        self.authenticator = authenticator
        self._scopes = scopes

    def scopes(self) -> tuple[str, ...]:
        """The scopes the metadata and the challenge name."""
        if self.config.scopes or self._scopes is None:
            return self.config.scopes
        try:
            return tuple(sorted(set(self._scopes())))
        except Exception as exc:  # no supergraph yet, say: name none rather than fail
            log.warning("could not list the MCP scopes", extra={"error": repr(exc)})
            return ()

    # -- metadata (RFC 9728) ---------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "resource": self.config.resource,
            "authorization_servers": list(self.config.authorization_servers),
            "bearer_methods_supported": ["header"],
            "resource_name": self.config.resource_name,
        }
        scopes = self.scopes()
        if scopes:
            document["scopes_supported"] = list(scopes)
        if self.config.documentation:
            document["resource_documentation"] = self.config.documentation
        return document

    def routes(self) -> list[Route]:
        """`GET /.well-known/oauth-protected-resource` and its path-suffixed form."""

        async def metadata(_: Request) -> Response:
            return JSONResponse(
                self.metadata(),
                headers={
                    "cache-control": "public, max-age=300",
                    # public metadata, read by browser-based clients from other origins
                    "access-control-allow-origin": "*",
                },
            )

        paths = dict.fromkeys([WELL_KNOWN, self.config.metadata_path])
        return [Route(path, metadata, methods=["GET"]) for path in paths]

    # -- each request ----------------------------------------------------------------------
    def challenge(
        self, error: str | None = None, description: str | None = None, status: int = 401
    ) -> Response:
        """A `401` (or `403 insufficient_scope`) naming the resource metadata, as RFC 6750
        3 and RFC 9728 5.1 say."""
        params = [f"resource_metadata={_quoted(self.config.metadata_url)}"]
        scopes = self.scopes()
        if scopes:
            params.append(f"scope={_quoted(' '.join(scopes))}")
        body: dict[str, Any] = {}
        if error is not None:
            params.append(f"error={_quoted(error)}")
            body["error"] = error
        if description is not None:
            params.append(f"error_description={_quoted(description)}")
            body["error_description"] = description
        if not body:
            body = {"error": "unauthorized", "error_description": "Sign in to use this server."}
        return JSONResponse(
            body,
            status_code=status,
            headers={
                "www-authenticate": "Bearer " + ", ".join(params),
                "cache-control": "no-store",
            },
        )

    async def judge(self, headers: Mapping[str, str]) -> Principal | Response:
        """The caller, or the response that refuses it."""
        presented = presents_credentials(headers)
        if self.authenticator is None:
            principal = ANONYMOUS
        else:
            try:
                principal = await self.authenticator(headers)
            except Exception as exc:  # the authenticator failed: refuse, never crash
                log.warning("could not authenticate an MCP caller", extra={"error": repr(exc)})
                return JSONResponse(
                    {
                        "error": "temporarily_unavailable",
                        "error_description": "Credentials cannot be checked right now.",
                    },
                    status_code=503,
                    headers={"retry-after": "5", "cache-control": "no-store"},
                )
        if principal.rejected:
            return self.challenge(
                "invalid_token", "The credentials are invalid, expired or revoked."
            )
        if principal.authenticated:
            if presents_bearer_token(headers) and (
                principal.audiences is None or self.config.resource not in principal.audiences
            ):
                return self.challenge("invalid_token", "The token was not issued for this server.")
            return principal
        if presented:
            # credentials the authenticator could not use (for example an API key where none
            # can be looked up): never treated as anonymous
            return self.challenge("invalid_token", "These credentials are not accepted here.")
        if not self.config.anonymous:
            return self.challenge()
        return principal

    def protect(self, app: ASGIApp) -> ASGIApp:
        """`app` (the MCP endpoint) behind the checks of `judge`; the caller it admits is in
        `scope["state"]["mcp_principal"]` (`request.state.mcp_principal`)."""

        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope.get("method") == "OPTIONS":
                await app(scope, receive, send)
                return
            verdict = await self.judge(_headers(scope))
            if isinstance(verdict, Response):
                await verdict(scope, receive, send)
                return
            scope.setdefault("state", {})[STATE_KEY] = verdict
            await app(scope, receive, send)

        return guarded


def principal_of(scope_or_request: Scope | Request) -> Principal | None:
    """The caller `protect` admitted for this request, if any."""
    if isinstance(scope_or_request, Request):
        return getattr(scope_or_request.state, STATE_KEY, None)
    state = scope_or_request.get("state") or {}
    found = state.get(STATE_KEY)
    return found if isinstance(found, Principal) else None


def operation_scopes(supergraph: Supergraph, documents: Iterable[DocumentNode]) -> set[str]:
    """Every scope that `@requiresScopes` names on what these operations select (on a field,
    its parent type or the type it returns): what an agent asks for to use them. The
    documents are the router's own, parsed and validated (`McpGateway.documents()`)."""
    from graphql import TypeInfo, TypeInfoVisitor, Visitor, get_named_type, visit

    found: set[str] = set()
    requirements = supergraph.requirements

    class Fields(Visitor):
        def __init__(self, info: TypeInfo) -> None:
            super().__init__()
            self.info = info

        def enter_field(self, node: Any, *_: Any) -> None:
            parent = self.info.get_parent_type()
            if parent is None:
                return
            returned = self.info.get_type()
            keys: list[tuple[str, str | None]] = [
                (parent.name, node.name.value),
                (parent.name, None),
            ]
            if returned is not None:
                keys.append((get_named_type(returned).name, None))
            for key in keys:
                requirement = requirements.get(key)
                if requirement is not None:
                    for alternative in requirement.scopes:
                        found.update(alternative)

    if not requirements:
        return found
    for document in documents:
        info = TypeInfo(supergraph.api_schema)
        visit(document, TypeInfoVisitor(info, Fields(info)))
    return found
