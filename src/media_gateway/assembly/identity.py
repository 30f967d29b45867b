"""Identity subgraph: owns ``User``; accounts, sign-in, MFA, profiles, API keys, tokens, the
JWKS, the OAuth endpoints (device authorization, authorize with PKCE, token) and the pages
of a person's browser (sign-in, consent, TV activation, email links)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import strawberry
from strawberry.tools import merge_types

from media_gateway.assembly.base import Runtime, Subgraph, base_context
from media_gateway.assembly.readiness import StartupError
from media_gateway.auth.tokens import token_service
from media_gateway.dataloaders.identity import IdentityLoaders
from media_gateway.platform.events import Event, PeriodicTask
from media_gateway.resolvers.identity import Mutation, Query
from media_gateway.resolvers.identity_admin import AdminMutation, AdminQuery
from media_gateway.schema.authorization import AuthorizationExtension
from media_gateway.schema.common import build_schema as schema_for
from media_gateway.schema.identity import IdentityContext, User
from media_gateway.storage.audit import AuditOutboxRecord, purge_expired
from media_gateway.storage.outbox import (
    KafkaPublisher,
    OutboxRelay,
    outbox_backlog,
    outbox_pruning,
)
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
        query=merge_types("Query", (Query, AdminQuery)),
        mutation=merge_types("Mutation", (Mutation, AdminMutation)),
        types=[User],
        extensions=[AuthorizationExtension],
    )


def create(runtime: Runtime | None = None) -> Subgraph:
    owns_runtime = runtime is None
    runtime = runtime or Runtime.create()
    tokens = token_service(runtime.settings)
    services = IdentityServices.create(runtime.database, runtime.settings, tokens)
    oauth = OAuthService(services)
    # the pages a person's browser meets (sign-in, consent, TV activation, email links)
    pages = Pages(services.stores)
    # social sign-in with the configured providers (none by default); a configuration that
    # cannot work stops the service at its start, where start-up errors are reported
    social_error: ProviderConfigError | None = None
    try:
        social = SocialSignInService.create(services)
    except ProviderConfigError as exc:
        social_error = exc
        social = SocialSignInService.create(services, providers={})
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
            administration=services.administration,
        )

    # the audit log's events (and identity's account events) to the bus and Kafka; entries
    # older than the retention purged; accounts whose deletion is due deleted
    kafka = (
        KafkaPublisher(runtime.settings.kafka_bootstrap_servers)
        if runtime.settings.kafka_bootstrap_servers
        else None
    )

    async def publish(topic: str, key: str, payload: dict[str, object]) -> None:
        if kafka is not None:
            await kafka(topic, key, payload)
        await runtime.events.publish(Event(topic, key, payload))

    audit_relay = OutboxRelay(runtime.database, AuditOutboxRecord, publish)
    retention = timedelta(days=runtime.settings.audit_retention_days)
    runtime.metrics.watch_outbox("audit", outbox_backlog(runtime.database, AuditOutboxRecord))
    tasks = [
        PeriodicTask("audit-outbox-relay", audit_relay.relay_step, 1.0),
        outbox_pruning("audit-outbox-pruning", runtime.database, AuditOutboxRecord),
        PeriodicTask("audit-retention", lambda: purge_expired(runtime.database, retention), 3600.0),
        PeriodicTask("account-deletions", services.administration.delete_due, 60.0),
    ]

    async def startup() -> None:
        if social_error is not None:
            raise StartupError(f"social sign-in: {social_error}")
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
        for task in tasks:
            task.start()

    async def shutdown() -> None:
        for task in tasks:
            await task.stop()
        if kafka is not None:
            await kafka.close()
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
