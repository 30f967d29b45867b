"""Identity subgraph: owns ``User``; accounts, sign-in, MFA, profiles, API keys, tokens, the
JWKS, the OAuth endpoints (device authorization, authorize with PKCE, token) and the pages
of a person's browser (sign-in, consent, TV activation, email links)."""

from __future__ import annotations

from collections.abc import Mapping

import strawberry

from media_gateway.assembly.base import Runtime, Subgraph, base_context
from media_gateway.assembly.readiness import StartupError
from media_gateway.auth.tokens import token_service
from media_gateway.dataloaders.identity import IdentityLoaders
from media_gateway.resolvers.identity import Mutation, Query
from media_gateway.schema.authorization import AuthorizationExtension
from media_gateway.schema.common import build_schema as schema_for
from media_gateway.schema.identity import IdentityContext, User
from media_gateway.subgraphs.identity.demo import ensure_demo_account
from media_gateway.subgraphs.identity.http import oauth_routes
from media_gateway.subgraphs.identity.oauth import OAuthService
from media_gateway.subgraphs.identity.oidc import ProviderConfigError
from media_gateway.subgraphs.identity.pages import Pages, page_routes
from media_gateway.subgraphs.identity.pages.social import social_routes, social_sign_in_options
from media_gateway.subgraphs.identity.services import IdentityServices
from media_gateway.subgraphs.identity.social import SocialSignInService

NAME = "identity"
DEFAULT_PORT = 4001


def build_schema() -> strawberry.federation.Schema:
    return schema_for(
        query=Query, mutation=Mutation, types=[User], extensions=[AuthorizationExtension]
    )


def create(runtime: Runtime | None = None) -> Subgraph:
    owns_runtime = runtime is None
    runtime = runtime or Runtime.create()
    tokens = token_service(runtime.settings)
    services = IdentityServices.create(runtime.database, runtime.settings, tokens)
    oauth = OAuthService(services)
    # the pages a person's browser meets (sign-in, consent, TV activation, email links)
    pages = Pages(services.stores)
    try:  # social sign-in with the configured providers (none by default)
        social = SocialSignInService.create(services)
    except ProviderConfigError as exc:
        raise StartupError(f"social sign-in: {exc}") from exc
    pages.sign_in_options.extend(social_sign_in_options(pages, social))

    async def context(headers: Mapping[str, str]) -> IdentityContext:
        return IdentityContext(
            **base_context(runtime, headers),
            accounts=services.accounts,
            sign_in=services.sign_in,
            sessions=services.sessions,
            mfa=services.mfa,
            profiles=services.profiles,
            credentials=services.credentials,
            api_keys=services.api_keys,
            oauth=oauth,
            social=social,
            loaders=IdentityLoaders.create(services.accounts, services.profiles, social),
        )

    async def startup() -> None:
        try:
            tokens.keys.ensure_signing_key()
        except OSError as exc:
            raise StartupError(
                f"no signing key can be created in the key folder (JWT_KEY_DIR, "
                f"{tokens.keys.key_dir}): {exc.strerror or exc}; make it writable by this "
                "service or put the key in it (media-gateway keys rotate)"
            ) from exc
        if runtime.settings.seed_demo_data:
            await ensure_demo_account(services.accounts)

    async def shutdown() -> None:
        await social.aclose()
        await services.aclose()

    return Subgraph(
        name=NAME,
        schema=build_schema(),
        context=context,
        runtime=runtime,
        default_port=DEFAULT_PORT,
        on_startup=[startup],
        on_shutdown=[shutdown],
        routes=[
            *oauth_routes(oauth, tokens),
            *page_routes(pages, oauth),
            *social_routes(pages, social),
        ],
        owns_runtime=owns_runtime,
        service=services,
    )
