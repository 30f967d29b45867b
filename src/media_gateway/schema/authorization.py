"""``@authenticated`` and ``@requiresScopes`` inside a subgraph.

The router enforces them first (``media_gateway.gateway.authorization``); each subgraph
enforces them again for the fields it owns, with ``AuthorizationExtension``, from the
``viewer`` and ``auth_error`` its request context carries (see
``media_gateway.auth.callers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.federation.schema_directives import Authenticated, RequiresScopes

from media_gateway.auth.tokens import Claims
from media_gateway.schema.common import forbidden, unauthenticated


@dataclass(frozen=True)
class Requirement:
    """What a field demands: a signed-in caller, and one of several sets of scopes."""

    authenticated: bool
    scope_sets: tuple[frozenset[str], ...] = ()

    def refusal(self, viewer: Claims | None, auth_error: str | None = None) -> Exception | None:
        if viewer is None:
            reason = f" (the credentials were refused: {auth_error})" if auth_error else ""
            return unauthenticated(f"Sign in to see this field{reason}.")
        if self.scope_sets and not any(needed <= viewer.scopes for needed in self.scope_sets):
            wanted = " or ".join(" + ".join(sorted(s)) for s in self.scope_sets)
            return forbidden(f"This field needs the scope {wanted}.")
        return None


def field_requirement(directives: Any) -> Requirement | None:
    """The requirement stated by a field's (or type's) federation directives."""
    authenticated = False
    scope_sets: list[frozenset[str]] = []
    for directive in directives or ():
        if isinstance(directive, Authenticated):
            authenticated = True
        elif isinstance(directive, RequiresScopes):
            authenticated = True
            scope_sets.extend(frozenset(group) for group in directive.scopes)
    if not authenticated:
        return None
    return Requirement(True, tuple(scope_sets))


def _requirement_of(parent_type: Any, field_name: str) -> Requirement | None:
    requirements = []
    type_definition = parent_type.extensions.get("strawberry-definition")
    if type_definition is not None:
        requirements.append(field_requirement(getattr(type_definition, "directives", ())))
    graphql_field = parent_type.fields.get(field_name)
    field_definition = (
        graphql_field.extensions.get("strawberry-definition") if graphql_field else None
    )
    if field_definition is not None:
        requirements.append(field_requirement(getattr(field_definition, "directives", ())))
    found = [r for r in requirements if r is not None]
    if not found:
        return None
    # every stated requirement applies: the scope sets of each must be met
    if len(found) == 1:
        return found[0]
    merged: list[frozenset[str]] = [frozenset()]
    for requirement in found:
        if requirement.scope_sets:
            merged = [a | b for a in merged for b in requirement.scope_sets]
    return Requirement(True, tuple(s for s in merged if s))


class AuthorizationExtension(SchemaExtension):
    """Enforces ``@authenticated`` and ``@requiresScopes`` declared with Strawberry
    (``authenticated=True``, ``requires_scopes=[[...]]``) on fields and object types, from
    the ``viewer`` / ``auth_error`` of the request context: the field resolves to null with
    an UNAUTHENTICATED or FORBIDDEN error, the rest of the response survives."""

    _cache: dict[tuple[str, str], Requirement | None] = {}

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        key = (info.parent_type.name, info.field_name)
        if key not in self._cache:
            self._cache[key] = _requirement_of(info.parent_type, info.field_name)
        requirement = self._cache[key]
        if requirement is not None:
            context = info.context
            refusal = requirement.refusal(
                getattr(context, "viewer", None), getattr(context, "auth_error", None)
            )
            if refusal is not None:
                raise refusal
        return _next(root, info, *args, **kwargs)
