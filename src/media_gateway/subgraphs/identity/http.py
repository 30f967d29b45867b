"""The identity service's HTTP endpoints for OAuth clients (RFC 6749, 7636, 8628, 8707),
dynamic client registration (RFC 7591), the authorization server metadata (RFC 8414) and
the JWKS. The authorization endpoint is a page (sign-in and consent: ``pages.consent``).
Responses carry ``Cache-Control: no-store`` wherever they hold tokens or codes."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from media_gateway.auth.tokens import TokenService
from media_gateway.platform.forwarding import TrustedProxies
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.identity.common import IdentityError
from media_gateway.subgraphs.identity.discovery import (
    authorization_server_metadata,
    metadata_paths,
)
from media_gateway.subgraphs.identity.oauth import DEVICE_CODE_GRANT, OAuthError, OAuthService
from media_gateway.subgraphs.identity.sessions import Session

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
MAX_FORM_BYTES = 16 * 1024
# parameters that may repeat (RFC 8707 2: one ``resource`` per resource)
REPEATABLE = frozenset({"resource"})


def _error(exc: OAuthError) -> JSONResponse:
    body: dict[str, Any] = {"error": exc.error, "error_description": exc.description}
    body.update(exc.extra)
    return JSONResponse(body, status_code=exc.status, headers=NO_STORE)


def _tokens(session: Session) -> JSONResponse:
    expires_in = max(0, int((session.access_token_expires_at - utcnow()).total_seconds()))
    return JSONResponse(
        {
            "access_token": session.access_token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "refresh_token": session.refresh_token,
            "scope": " ".join(sorted(session.scopes)),
        },
        headers=NO_STORE,
    )


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise OAuthError("invalid_request", "The request is too large.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "Send application/x-www-form-urlencoded.")
    return parameters(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def parameters(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The parameters of a request; a repeatable one (``resource``) holds its values one per
    line (see ``resources_of``)."""
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in REPEATABLE:
            if "\n" in value or not value:
                raise OAuthError("invalid_target", "Malformed resource parameter.")
            form[name] = f"{form[name]}\n{value}" if name in form else value
            continue
        if name in form:  # RFC 6749 3.1: parameters must not repeat
            raise OAuthError("invalid_request", f"Repeated parameter {name}.")
        form[name] = value
    return form


def resources_of(params: Mapping[str, str]) -> list[str]:
    value = params.get("resource")
    return value.split("\n") if value else []


def _address(request: Request, trusted: TrustedProxies) -> str | None:
    """The client: the peer, or the client a trusted proxy names (``TRUSTED_PROXIES``)."""
    return trusted.client_address(request.client.host if request.client else None, request.headers)


def _required(form: Mapping[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not form.get(name)]
    if missing:
        raise OAuthError("invalid_request", "Missing " + ", ".join(missing) + ".")
    return [form[name] for name in names]


def _with_client_credentials(form: dict[str, str], request: Request) -> dict[str, str]:
    """The form with a confidential client's credentials from HTTP Basic authentication
    (``client_secret_basic``, RFC 6749 2.3.1), when the request carries them."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return form
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "Malformed client credentials.", 401) from exc
    client_id, separator, secret = decoded.partition(":")
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    if not separator or not client_id:
        raise OAuthError("invalid_client", "Malformed client credentials.", 401)
    if form.get("client_id", client_id) != client_id or "client_secret" in form:
        raise OAuthError("invalid_request", "Authenticate the client one way only.")
    return {**form, "client_id": client_id, "client_secret": secret}


def oauth_routes(oauth: OAuthService, tokens: TokenService) -> list[Route]:
    identity = oauth.identity
    settings = identity.stores.settings

    async def jwks(_: Request) -> Response:
        return JSONResponse(tokens.keys.jwks(), headers={"cache-control": "public, max-age=300"})

    async def metadata(_: Request) -> Response:
        return JSONResponse(
            authorization_server_metadata(settings),
            headers={"cache-control": "public, max-age=300", "access-control-allow-origin": "*"},
        )

    async def register(request: Request) -> Response:
        """Dynamic client registration (RFC 7591) for public clients."""
        try:
            body = await request.body()
            if len(body) > MAX_FORM_BYTES:
                raise OAuthError("invalid_client_metadata", "The request is too large.")
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                raise OAuthError("invalid_client_metadata", "Send application/json.")
            try:
                metadata = json.loads(body)
            except ValueError as exc:
                raise OAuthError("invalid_client_metadata", "The body is not JSON.") from exc
            registered = await oauth.register_public_client(
                metadata, _address(request, settings.trusted_proxies)
            )
        except OAuthError as exc:
            return _error(exc)
        return JSONResponse(registered, status_code=201, headers=NO_STORE)

    async def device_authorization(request: Request) -> Response:
        try:
            form = await _form(request)
            (client_id,) = _required(form, "client_id")
            grant = await oauth.start_device_authorization(
                client_id,
                form.get("scope"),
                _address(request, settings.trusted_proxies),
                resources=resources_of(form),
            )
        except OAuthError as exc:
            return _error(exc)
        return JSONResponse(
            {
                "device_code": grant.device_code,
                "user_code": grant.user_code,
                "verification_uri": grant.verification_uri,
                "verification_uri_complete": grant.verification_uri_complete,
                "expires_in": grant.expires_in,
                "interval": grant.interval,
            },
            headers=NO_STORE,
        )

    async def token(request: Request) -> Response:
        try:
            form = _with_client_credentials(await _form(request), request)
            (grant_type,) = _required(form, "grant_type")
            if form.get("client_id"):
                await oauth.authenticate_client(form["client_id"], form.get("client_secret"))
            if grant_type == "authorization_code":
                code, client_id, redirect_uri, verifier = _required(
                    form, "code", "client_id", "redirect_uri", "code_verifier"
                )
                session = await oauth.exchange_authorization_code(
                    code, client_id, redirect_uri, verifier, resources_of(form)
                )
            elif grant_type == "refresh_token":
                (refresh_token,) = _required(form, "refresh_token")
                try:
                    session = await identity.sessions.refresh(
                        refresh_token,
                        client_address=_address(request, settings.trusted_proxies),
                        client_id=form.get("client_id"),
                        resources=oauth.resources(resources_of(form)),
                    )
                except IdentityError as exc:
                    if exc.code == "RATE_LIMITED":
                        raise OAuthError("slow_down", str(exc), 429, **exc.extensions) from exc
                    if exc.code == "invalid_target":
                        raise OAuthError("invalid_target", str(exc)) from exc
                    raise OAuthError("invalid_grant", str(exc)) from exc
            elif grant_type == DEVICE_CODE_GRANT:
                device_code, client_id = _required(form, "device_code", "client_id")
                session = await oauth.poll_device_authorization(
                    device_code,
                    client_id,
                    _address(request, settings.trusted_proxies),
                    resources=resources_of(form),
                )
            else:
                raise OAuthError("unsupported_grant_type", "Unsupported grant_type.")
        except OAuthError as exc:
            return _error(exc)
        except IdentityError as exc:
            return _error(OAuthError("invalid_grant", str(exc)))
        return _tokens(session)

    return [
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        *(Route(path, metadata, methods=["GET"]) for path in metadata_paths(settings)),
        Route("/oauth/register", register, methods=["POST"]),
        Route("/oauth/device_authorization", device_authorization, methods=["POST"]),
        Route("/oauth/token", token, methods=["POST"]),
    ]
