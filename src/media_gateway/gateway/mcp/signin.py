"""Signing in for the STDIO transport (`media-gateway mcp`): an API key, or a device sign-in.

A desktop agent starts `media-gateway mcp` itself, so there is no browser redirect to catch:
the command either presents an API key (`GATEWAY_MCP_API_KEY`) or signs in with the device
authorization grant (RFC 8628) against the authorization server: it shows a short code and
an address, the member approves it on any signed-in device, and the tokens are kept in a
cache file (readable by its owner only) and refreshed when they expire. Everything is
client-side: the authorization server is found from its metadata (RFC 8414) at its issuer
URL, never from the product's code.

For the command, `device_sign_in(issuer, client_id=..., scope=..., resource=...)` returns
tokens (a good cached one, refreshed when due, or a new sign-in whose code is shown on
standard error); or, step by step:

    signin = DeviceSignIn(SignInConfig.from_env())
    headers = await signin.headers()          # cached, refreshed, or None
    if headers is None:
        await signin.sign_in(show=lambda prompt: print(prompt.message, file=sys.stderr))
        headers = await signin.headers()

and `headers` go with every request the STDIO server sends to the gateway.

Configuration (the environment): `GATEWAY_MCP_API_KEY` (or `MEDIA_GATEWAY_API_KEY`);
`GATEWAY_MCP_AUTHORIZATION_SERVER` (default `$OAUTH_ISSUER`, else `$PUBLIC_URL`, else
`http://localhost:4000`: an authorization server's issuer, or a gateway whose protected
resource metadata names one);
`GATEWAY_MCP_CLIENT_ID` (default `media-gateway-cli`, a first-party device client);
`GATEWAY_MCP_SIGNIN_SCOPES` (default: every scope the server grants);
`GATEWAY_MCP_SIGNIN_RESOURCE` (a resource indicator, RFC 8707; default none: the tokens are
for the API itself, which is what the STDIO server calls); `GATEWAY_MCP_TOKEN_CACHE` (default
`~/.cache/media-gateway/mcp-token.json`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_CLIENT_ID = "media-gateway-cli"
DEFAULT_ISSUER = "http://localhost:4000"
METADATA_PATH = "/.well-known/oauth-authorization-server"
PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource"
# refresh this long before the access token expires
EXPIRY_MARGIN_SECONDS = 30


class SignInError(Exception):
    """The sign-in did not complete (refused, expired, the server unreachable, ...)."""

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def default_cache_path(env: Mapping[str, str] | None = None) -> Path:
    e = os.environ if env is None else env
    base = _text(e, "XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "media-gateway" / "mcp-token.json"


@dataclass(frozen=True)
class SignInConfig:
    issuer: str = DEFAULT_ISSUER
    client_id: str = DEFAULT_CLIENT_ID
    scope: str | None = None
    resource: str | None = None
    cache_path: Path | None = None
    api_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SignInConfig:
        e = os.environ if env is None else env
        issuer = (
            _text(e, "GATEWAY_MCP_AUTHORIZATION_SERVER")
            or _text(e, "OAUTH_ISSUER")
            or _text(e, "PUBLIC_URL")
            or DEFAULT_ISSUER
        )
        cache = _text(e, "GATEWAY_MCP_TOKEN_CACHE")
        return cls(
            issuer=issuer.rstrip("/"),
            client_id=_text(e, "GATEWAY_MCP_CLIENT_ID") or DEFAULT_CLIENT_ID,
            scope=_text(e, "GATEWAY_MCP_SIGNIN_SCOPES"),
            resource=_text(e, "GATEWAY_MCP_SIGNIN_RESOURCE"),
            cache_path=Path(cache).expanduser() if cache else default_cache_path(e),
            api_key=_text(e, "GATEWAY_MCP_API_KEY") or _text(e, "MEDIA_GATEWAY_API_KEY"),
        )


@dataclass(frozen=True)
class DevicePrompt:
    """What to show the member: open `verification_uri` and enter `user_code`."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int

    @property
    def message(self) -> str:
        link = self.verification_uri_complete or self.verification_uri
        return (
            f"To sign in, open {link} on a signed-in device and confirm the code "
            f"{self.user_code} (valid for {self.expires_in // 60} minutes)."
        )


@dataclass(frozen=True)
class CachedToken:
    access_token: str
    expires_at: float
    issuer: str
    client_id: str
    refresh_token: str | None = None
    scope: str | None = None
    resource: str | None = None

    def fresh(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.expires_at - EXPIRY_MARGIN_SECONDS


class TokenCache:
    """One token in a JSON file only its owner can read."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> CachedToken | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return CachedToken(**data)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, token: CachedToken) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(asdict(token), out)
        os.replace(temporary, self.path)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class DeviceSignIn:
    """Credentials for the STDIO server: an API key, or tokens from a device sign-in."""

    def __init__(
        self,
        config: SignInConfig,
        *,
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.cache = TokenCache(config.cache_path or default_cache_path())
        self._http = http
        self._sleep = sleep
        self._metadata: dict[str, Any] | None = None

    @contextlib.asynccontextmanager
    async def _client(self) -> Any:
        if self._http is not None:
            yield self._http
            return
        async with httpx.AsyncClient(timeout=30) as client:
            yield client

    async def metadata(self) -> dict[str, Any]:
        """The authorization server's metadata (RFC 8414), read once. When `issuer` is the
        gateway rather than the authorization server (the distributed mode), the server is
        the one the gateway's protected resource metadata (RFC 9728) names."""
        if self._metadata is None:
            found = await self._get_json(f"{self.config.issuer}{METADATA_PATH}")
            if found is None:
                server = await self._authorization_server()
                if server is not None:
                    found = await self._get_json(f"{server.rstrip('/')}{METADATA_PATH}")
            if found is None or "token_endpoint" not in found:
                raise SignInError(f"No authorization server metadata at {self.config.issuer}.")
            self._metadata = found
        return self._metadata

    async def _authorization_server(self) -> str | None:
        paths = [PROTECTED_RESOURCE_PATH]
        if self.config.resource:
            suffix = urlsplit(self.config.resource).path.rstrip("/")
            if suffix:
                paths.insert(0, f"{PROTECTED_RESOURCE_PATH}{suffix}")
        for path in paths:
            document = await self._get_json(f"{self.config.issuer}{path}")
            servers = document.get("authorization_servers") if document else None
            if isinstance(servers, list) and servers and isinstance(servers[0], str):
                return servers[0]
        return None

    async def _get_json(self, url: str) -> dict[str, Any] | None:
        async with self._client() as http:
            try:
                response = await http.get(url)
            except httpx.HTTPError as exc:
                raise SignInError(f"The sign-in server cannot be reached: {exc}") from exc
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _post(self, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        async with self._client() as http:
            try:
                response = await http.post(url, data=form)
            except httpx.HTTPError as exc:
                raise SignInError(f"The sign-in server cannot be reached: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}

    def _keep(self, body: Mapping[str, Any], previous: CachedToken | None = None) -> CachedToken:
        token = CachedToken(
            access_token=str(body["access_token"]),
            expires_at=time.time() + float(body.get("expires_in") or 300),
            issuer=self.config.issuer,
            client_id=self.config.client_id,
            refresh_token=body.get("refresh_token")
            or (previous.refresh_token if previous else None),
            scope=body.get("scope") or (previous.scope if previous else None),
            resource=self.config.resource,
        )
        self.cache.save(token)
        return token

    async def sign_in(self, show: Callable[[DevicePrompt], Any]) -> CachedToken:
        """Run the device authorization grant: `show` tells the member what to do; returns
        (and caches) the tokens once the member approved."""
        metadata = await self.metadata()
        endpoint = metadata.get("device_authorization_endpoint")
        if not endpoint:
            raise SignInError("This server does not offer device sign-in.")
        form = {"client_id": self.config.client_id}
        if self.config.scope:
            form["scope"] = self.config.scope
        if self.config.resource:
            form["resource"] = self.config.resource
        status, grant = await self._post(str(endpoint), form)
        if status != 200 or "device_code" not in grant:
            raise SignInError(
                str(grant.get("error_description") or "The device sign-in could not start."),
                grant.get("error"),
            )
        prompt = DevicePrompt(
            user_code=str(grant["user_code"]),
            verification_uri=str(grant["verification_uri"]),
            verification_uri_complete=grant.get("verification_uri_complete"),
            expires_in=int(grant.get("expires_in") or 600),
        )
        shown = show(prompt)
        if asyncio.iscoroutine(shown):
            await shown
        interval = float(grant.get("interval") or 5)
        deadline = time.monotonic() + prompt.expires_in
        poll = {
            "grant_type": DEVICE_CODE_GRANT,
            "device_code": str(grant["device_code"]),
            "client_id": self.config.client_id,
        }
        token_endpoint = str(metadata["token_endpoint"])
        while time.monotonic() < deadline:
            await self._sleep(interval)
            status, body = await self._post(token_endpoint, poll)
            if status == 200 and "access_token" in body:
                return self._keep(body)
            error = body.get("error")
            if error == "authorization_pending":
                continue
            if error == "slow_down":  # RFC 8628 3.5: five seconds more between polls
                interval = float(body.get("interval") or interval + 5)
                continue
            raise SignInError(
                str(body.get("error_description") or "The sign-in did not complete."), error
            )
        raise SignInError("The code expired before it was approved; sign in again.")

    async def refresh(self, token: CachedToken) -> CachedToken | None:
        """New tokens for a cached session, or None when it has ended."""
        if not token.refresh_token:
            return None
        form = {
            "grant_type": "refresh_token",
            "refresh_token": token.refresh_token,
            "client_id": token.client_id,
        }
        if token.resource:
            form["resource"] = token.resource
        status, body = await self._post(str((await self.metadata())["token_endpoint"]), form)
        if status != 200 or "access_token" not in body:
            self.cache.clear()
            return None
        return self._keep(body, token)

    async def headers(self) -> dict[str, str] | None:
        """The credentials to send with each request to the gateway: the API key, or a
        cached (refreshed when due) access token; None: sign in first."""
        if self.config.api_key:
            return {"x-api-key": self.config.api_key}
        token = self.cache.load()
        if token is None or token.issuer != self.config.issuer:
            return None
        if not token.fresh():
            token = await self.refresh(token)
            if token is None:
                return None
        return {"authorization": f"Bearer {token.access_token}"}

    def sign_out(self) -> None:
        self.cache.clear()


def _show_on_stderr(prompt: DevicePrompt) -> None:
    import sys

    # standard output carries the protocol over STDIO: the prompt goes to standard error
    print(prompt.message, file=sys.stderr, flush=True)


async def device_sign_in(
    issuer: str,
    *,
    client_id: str | None = None,
    scope: str | None = None,
    resource: str | None = None,
    http: httpx.AsyncClient | None = None,
    show: Callable[[DevicePrompt], Any] = _show_on_stderr,
    cache_path: Path | None = None,
    cached: bool = True,
) -> CachedToken:
    """Tokens for the STDIO server from `issuer`: the cached ones when still good (refreshed
    when due, for the same server, client and resource), else a device sign-in (`show`
    tells the member what to approve; by default on standard error), then cached."""
    config = SignInConfig(
        issuer=issuer.rstrip("/"),
        client_id=client_id or DEFAULT_CLIENT_ID,
        scope=scope,
        resource=resource,
        cache_path=cache_path or SignInConfig.from_env().cache_path,
    )
    signin = DeviceSignIn(config, http=http)
    if cached:
        token = signin.cache.load()
        if (
            token is not None
            and token.issuer == config.issuer
            and token.client_id == config.client_id
            and token.resource == config.resource
        ):
            if token.fresh():
                return token
            refreshed = await signin.refresh(token)
            if refreshed is not None:
                return refreshed
    return await signin.sign_in(show)
