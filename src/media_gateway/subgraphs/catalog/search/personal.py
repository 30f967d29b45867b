"""Personalised search: a signed-in viewer's tastes re-order ties and near-ties.

Relevance decides the order; taste only moves a title past others whose relevance is within
``NEAR_TIE`` of its own (and breaks exact ties, such as a browse with no query words). A title
the query names exactly stays first. The catalog does not know how tastes are learnt: whoever
assembles the subgraph hands in a ``ViewerTastes`` (the recommender's affinity), and without
one, or for an anonymous caller, search is not personalised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

RERANK_DEPTH = 100  # how many of the best results taste may re-order
NEAR_TIE = 0.1  # relevance within 10% of another title's counts as a near-tie


class ViewerTastes(Protocol):
    """How well titles fit a viewing profile's tastes."""

    async def affinity(
        self, viewer_id: str, profile_id: str, content_ids: Sequence[str]
    ) -> Mapping[str, float]:
        """Per title, 0 (least like the profile's tastes) to 1 (most like them); titles
        left out, or an empty answer (no history yet), are not re-ordered."""
        ...


def personalise(
    ids: Sequence[str],
    scores: Sequence[float],
    affinity: Mapping[str, float],
    exact_id: str | None = None,
) -> list[str]:
    """``ids`` (best first, with their relevance ``scores``) re-ordered by taste among ties
    and near-ties; ``exact_id`` (the title the query names) is never moved down."""
    if not affinity:
        return list(ids)

    def key(position: int) -> tuple[bool, float, float, int]:
        content_id = ids[position]
        taste = min(max(affinity.get(content_id, 0.0), 0.0), 1.0)
        personal = scores[position] * (1.0 + NEAR_TIE * taste)
        return (content_id != exact_id, -personal, -taste, position)

    return [ids[i] for i in sorted(range(len(ids)), key=key)]
