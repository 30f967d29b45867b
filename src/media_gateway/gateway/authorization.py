"""@authenticated and @requiresScopes, enforced by the router.

The supergraph says which fields and types need an authenticated caller or scopes. Before a
plan runs, the fields the caller may not see are taken out of the operation (no subgraph is
asked for them) and answered with null and an UNAUTHENTICATED or FORBIDDEN error at their
path; the rest of the response stands. Who the caller is comes from an `Authenticator`
supplied by the deployment (for example, a JWT verifier).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from .operation import CField, CFragment, CSelection
from .supergraph import Requirement, Supergraph


@dataclass(frozen=True)
class Principal:
    authenticated: bool
    scopes: frozenset[str] = frozenset()
    # credentials were presented and refused (forged, expired, revoked): over HTTP the caller
    # is anonymous, a WebSocket connection presenting them is closed (4403)
    rejected: bool = False
    # the audiences (``aud``) a bearer token was issued for; None when the credentials name
    # none (an API key) or the authenticator does not say (the MCP endpoint then refuses
    # bearer tokens: it accepts only those issued for it)
    audiences: frozenset[str] | None = None


ANONYMOUS = Principal(False)
REJECTED = Principal(False, rejected=True)
Authenticator = Callable[[Mapping[str, str]], Awaitable[Principal]]
Coordinate = tuple[str, str]
Secured = dict[Coordinate, tuple[Requirement, ...]]


def secured_fields(sg: Supergraph, selections: list[CSelection], root_type: str) -> Secured:
    """The selected fields that carry a requirement (on the field, its parent type or the
    type it returns)."""
    out: Secured = {}
    if not sg.requirements:
        return out

    def walk(sels: list[CSelection], parent: str) -> None:
        for s in sels:
            if isinstance(s, CFragment):
                walk(s.selections, s.type_condition or parent)
                continue
            if s.name.startswith("__"):
                continue
            ftype = sg.field_type_name(parent, s.name)
            reqs = tuple(
                r
                for r in (
                    sg.requirements.get((parent, s.name)),
                    sg.requirements.get((parent, None)),
                    sg.requirements.get((ftype, None)) if ftype else None,
                )
                if r is not None
            )
            if reqs:
                out[(parent, s.name)] = reqs
                if sg.is_abstract(parent):
                    # the response is shaped by each object's own type: a field selected on
                    # an interface is refused under every type that implements it
                    for possible in sg.possible_types(parent):
                        own = sg.requirements.get((possible, s.name))
                        extra = () if own is None or own in reqs else (own,)
                        out[(possible, s.name)] = reqs + extra
            if ftype is not None and s.selections:
                walk(s.selections, ftype)

    walk(selections, root_type)
    return out


def denied_fields(secured: Secured, principal: Principal) -> dict[Coordinate, str]:
    out: dict[Coordinate, str] = {}
    for coordinate, reqs in secured.items():
        for r in reqs:
            code = r.denies(principal.authenticated, principal.scopes)
            if code is not None:
                out[coordinate] = code
                break
    return out


def without_fields(
    sg: Supergraph, selections: list[CSelection], root_type: str, denied: Mapping[Coordinate, str]
) -> list[CSelection]:
    """A copy of the selection without the denied fields."""

    def walk(sels: list[CSelection], parent: str) -> list[CSelection]:
        out: list[CSelection] = []
        for s in sels:
            if isinstance(s, CFragment):
                out.append(
                    CFragment(
                        s.type_condition, walk(s.selections, s.type_condition or parent), s.defer
                    )
                )
            elif (parent, s.name) in denied:
                continue
            else:
                ftype = sg.field_type_name(parent, s.name)
                sub = walk(s.selections, ftype) if ftype and s.selections else s.selections
                out.append(CField(s.response_key, s.name, s.arguments, sub, s.directives))
        return out

    return walk(selections, root_type)
