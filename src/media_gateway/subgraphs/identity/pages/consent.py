"""``/oauth/authorize``: the authorization endpoint of the code flow with PKCE (RFC 6749
4.1, RFC 7636, RFC 9700) as a page. The request is checked first: an unknown client or a
redirect URI that is not exactly a registered one is shown as an error on the page (never
a redirect); an implicit grant, a missing PKCE S256 challenge or an unknown scope goes back
to the app as an error. Then the member signs in (``/login``) and sees which app asks for
what, in words; Allow sends the app a one-time code, Deny ``access_denied``, ``state``
always carried back.

A request presenting a member's own access token (``Authorization: Bearer``) is answered
at once, as before the page existed: the bearer is the member, and no browser can be led to
send it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from media_gateway.auth.callers import bearer_token, identify_caller, with_api_keys
from media_gateway.subgraphs.identity.accounts import AccountService
from media_gateway.subgraphs.identity.api_keys import ApiKeys
from media_gateway.subgraphs.identity.http import parameters, resources_of
from media_gateway.subgraphs.identity.oauth import (
    AuthorizationRedirect,
    AuthorizationRequest,
    OAuthError,
    OAuthService,
)
from media_gateway.subgraphs.identity.pages.activate import scope_words
from media_gateway.subgraphs.identity.pages.framework import (
    CSRF_FIELD,
    PAGE_REDIRECT,
    PageError,
    Pages,
)

# the authorization request's parameters, carried through the consent form
REQUEST_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


def consent_routes(pages: Pages, oauth: OAuthService, accounts: AccountService) -> list[Route]:
    settings = pages.settings
    api_keys = ApiKeys(oauth.stores.database)

    async def bearer_viewer(request: Request) -> Any:
        async def claims(headers: Mapping[str, str]) -> Any:
            return identify_caller(headers, settings)[0]

        return await with_api_keys(claims, oauth.stores.database, settings, api_keys=api_keys.find)(
            dict(request.headers)
        )

    async def checked(params: Mapping[str, str]) -> AuthorizationRequest:
        client_id, redirect_uri = params.get("client_id"), params.get("redirect_uri")
        if not client_id or not redirect_uri:
            raise PageError("The app's request names no client_id or redirect_uri.")
        try:
            return await oauth.authorization_request(
                client_id=client_id,
                redirect_uri=redirect_uri,
                response_type=params.get("response_type", ""),
                code_challenge=params.get("code_challenge"),
                code_challenge_method=params.get("code_challenge_method"),
                scope=params.get("scope"),
                state=params.get("state"),
                resources=resources_of(params),
            )
        except OAuthError as exc:
            raise PageError(
                f"The app's request cannot be answered: {exc.description} Tell the app's makers.",
                400,
            ) from exc

    def back(location: str) -> Response:
        return RedirectResponse(location, status_code=303, headers=PAGE_REDIRECT)

    async def authorize(request: Request) -> Response:
        if request.method == "POST":
            return await decide(request)
        try:
            params = parameters(request.query_params.multi_items())
        except OAuthError as exc:
            raise PageError(exc.description) from exc
        try:
            authorization = await checked(params)
        except AuthorizationRedirect as refused:
            return RedirectResponse(refused.location, status_code=302, headers=PAGE_REDIRECT)
        if bearer_token(request.headers) or request.headers.get("x-api-key"):
            viewer = await bearer_viewer(request)
            if viewer is None:
                raise PageError("The access token presented is not valid.", 401)
            try:
                location = await oauth.grant_authorization(viewer, authorization)
            except OAuthError as exc:
                raise PageError(exc.description, exc.status) from exc
            return RedirectResponse(location, status_code=302, headers=PAGE_REDIRECT)
        viewer = pages.viewer(request)
        if viewer is None:
            return back(pages.login_url(request))
        fields = [(name, params[name]) for name in REQUEST_FIELDS if params.get(name)]
        fields += [("resource", resource) for resource in authorization.resources]
        redirect = urlsplit(authorization.redirect_uri)
        return pages.render(
            request,
            "consent.html",
            title=f"Allow {authorization.client.name}?",
            client_name=authorization.client.name,
            scopes=scope_words(authorization.scopes),
            email=(await accounts.account(viewer.subject)).email,
            redirect_host=redirect.netloc,
            fields=fields,
            here=f"{request.url.path}?{request.url.query}",
            form_action=f"{redirect.scheme}://{redirect.netloc}",
        )

    async def decide(request: Request) -> Response:
        form = await pages.form(request, "consent")
        pairs = [
            (name, value)
            for name, value in form.multi_items()
            if isinstance(value, str) and name not in (CSRF_FIELD, "decision")
        ]
        try:
            params = parameters(pairs)
        except OAuthError as exc:
            raise PageError(exc.description) from exc
        try:
            authorization = await checked(params)
        except AuthorizationRedirect as refused:
            return back(refused.location)
        viewer = pages.viewer(request)
        if viewer is None:
            query = urlencode([(k, v) for k, v in pairs])
            return back(pages.url("/login", next=f"/oauth/authorize?{query}"))
        if form.get("decision") != "allow":
            return back(oauth.deny_authorization(authorization))
        try:
            return back(await oauth.grant_authorization(viewer, authorization))
        except OAuthError as exc:
            raise PageError(exc.description, exc.status) from exc

    return [Route("/oauth/authorize", pages.guarded(authorize), methods=["GET", "POST"])]
