"""The identity service's pages, for a person's browser: sign-in, consent to a third-party
app, TV activation and the links of account emails. Served by the identity service and
mounted by ``media-gateway serve`` (and forwarded by the gateway in the distributed mode);
every link is under ``PUBLIC_URL``. The shared machinery is in ``framework``."""

from __future__ import annotations

from starlette.routing import Route

from media_gateway.subgraphs.identity.oauth import OAuthService
from media_gateway.subgraphs.identity.pages.activate import activate_routes
from media_gateway.subgraphs.identity.pages.consent import consent_routes
from media_gateway.subgraphs.identity.pages.framework import PageError, Pages, SignInOption
from media_gateway.subgraphs.identity.pages.links import link_routes
from media_gateway.subgraphs.identity.pages.login import login_routes

__all__ = ["PageError", "Pages", "SignInOption", "page_routes"]


def page_routes(pages: Pages, oauth: OAuthService) -> list[Route]:
    services = oauth.identity
    return [
        *login_routes(pages, services.sign_in),
        *activate_routes(pages, oauth, services.accounts, services.profiles),
        *link_routes(pages, services.accounts, services.credentials),
        *consent_routes(pages, oauth, services.accounts),
    ]
