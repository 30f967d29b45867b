"""The per-request context every subgraph's GraphQL layer starts from, and the checks its
resolvers make of the caller."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from media_gateway.auth.tokens import Claims
from media_gateway.platform.settings import Settings
from media_gateway.schema.common import forbidden, unauthenticated
from media_gateway.storage.database import Database


@dataclass
class RequestContext:
    """Per-request state every subgraph's context carries."""

    database: Database
    settings: Settings
    headers: Mapping[str, str]
    viewer: Claims | None
    auth_error: str | None
    request_id: str | None

    @property
    def viewer_id(self) -> str | None:
        return self.viewer.subject if self.viewer else None


def require_viewer(context: RequestContext, user_id: str | None = None) -> str:
    """The caller's user id; UNAUTHENTICATED without a valid token, FORBIDDEN for others' data."""
    if context.viewer is None:
        reason = f" ({context.auth_error})" if context.auth_error else ""
        raise unauthenticated(f"Sign in to do this{reason}.")
    if user_id is not None and user_id != context.viewer.subject:
        raise forbidden("You can only see your own data.")
    return context.viewer.subject


def require_scopes(context: RequestContext, scope_sets: Sequence[Sequence[str]]) -> str:
    """``require_viewer`` plus one of the scope sets. Subscriptions call it: the authorization
    extension (``@requiresScopes`` on fields) does not see a subscription's root field."""
    user_id = require_viewer(context)
    scopes = context.viewer.scopes if context.viewer is not None else frozenset()
    if not any(set(needed) <= scopes for needed in scope_sets):
        wanted = " or ".join(" + ".join(sorted(needed)) for needed in scope_sets)
        raise forbidden(f"This needs the scope {wanted}.")
    return user_id
