"""The identity service's pages, for a person's browser: sign-in, consent to a third-party
app, TV activation and the links of account emails. Served by the identity service and
mounted by ``media-gateway serve`` (and forwarded by the gateway in the distributed mode);
every link is under ``PUBLIC_URL``. The shared machinery is in ``framework``."""

from __future__ import annotations

from starlette.routing import Route

from media_gateway.subgraphs.identity.pages.framework import PageError, Pages, SignInOption
from media_gateway.subgraphs.identity.pages.login import login_routes
from media_gateway.subgraphs.identity.services import IdentityServices

__all__ = ["PageError", "Pages", "SignInOption", "page_routes"]


def page_routes(pages: Pages, services: IdentityServices) -> list[Route]:
    return [*login_routes(pages, services.sign_in)]
