"""The scope catalogue: what a caller can be allowed to do.

A read and a write scope per domain, with the words a consent screen shows for them. A
signed-in member's session holds all of them; an API key or a third-party app holds the ones
it was granted ("identity:admin" only ever by a session). Operators (support, catalog
editors, admins) hold the operator scopes of their role besides. Every mutation and every private
field of the graph declares the scopes it needs (``@requiresScopes``), enforced by the router
and again by the subgraph that owns it.
"""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "identity:read": "See your account and its viewing profiles.",
    "identity:write": "Change your account and its viewing profiles.",
    "identity:admin": "Manage API keys, OAuth apps, two-step sign-in and device sign-ins.",
    "catalog:read": "Browse and search the catalog.",
    "recommendations:read": "See the recommendations picked for your profile.",
    "recommendations:write": "Tell the recommender what you did with its picks.",
    "playback:read": "See your watch history, what you are watching and how far you got.",
    "playback:write": "Start, pause and end playback and record how far you got.",
    "sync:read": "See your watchlist, your devices and what they share across devices.",
    "sync:write": "Change your watchlist, register devices and send commands to them.",
}
SESSION_SCOPES: frozenset[str] = frozenset(SCOPES)
DELEGABLE_SCOPES: frozenset[str] = SESSION_SCOPES - {"identity:admin"}
# Operator scopes: held by the sessions of operators whose role includes them (see ROLES), never
# by a member's session, and never granted to a key or an app by a member; an admin may grant
# them to an API key explicitly.
OPERATOR_SCOPES: dict[str, str] = {
    "accounts:read": "Find accounts and see their sessions and devices.",
    "accounts:support": (
        "Revoke a member's sessions, lock and unlock accounts, force a password reset and "
        "export a member's data."
    ),
    "accounts:admin": "Assign roles and delete accounts.",
    "catalog:write": "Create, change and retire catalog entries.",
    "search:admin": "Read search analytics and manage synonyms.",
    "recommendations:admin": "Run recommendation experiments and read their results.",
    "audit:read": "Read the audit log.",
}

# The roles an admin assigns to an account, and the operator scopes each adds to the
# session scopes every signed-in member holds.
MEMBER_ROLE = "member"
ROLES: dict[str, frozenset[str]] = {
    MEMBER_ROLE: frozenset(),
    "support": frozenset({"accounts:read", "accounts:support", "audit:read"}),
    "catalog_editor": frozenset({"catalog:write", "search:admin"}),
    "admin": frozenset(OPERATOR_SCOPES),
}


def role_scopes(role: str) -> frozenset[str]:
    """The scopes of a session of an account with this role (an unknown role: a member's)."""
    return SESSION_SCOPES | ROLES.get(role, frozenset())
