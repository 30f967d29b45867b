"""The scope catalogue: what a caller can be allowed to do.

A read and a write scope per domain, with the words a consent screen shows for them. A
signed-in member's session holds all of them; an API key or a third-party app holds the ones
it was granted ("identity:admin" only ever by a session). Every mutation and every private
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
# Operator scopes: never held by a member's session nor granted to a key or an app by a member
# (recommendation experiments are run by the platform's operators).
OPERATOR_SCOPES: dict[str, str] = {
    "recommendations:admin": "Run recommendation experiments and read their results.",
}
