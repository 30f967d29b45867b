"""Home-screen rows: top picks, "because you watched", a favourite genre, trending, and for a
new member popular titles per genre; each row with a reason a client can show."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from media_gateway.auth.profiles import DEFAULT_PROFILE
from media_gateway.subgraphs.recommendations.selection import Audience, Scored, Situation
from media_gateway.subgraphs.recommendations.serving import ServingService


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    reason: str
    kind: str  # TOP_PICKS | BECAUSE_YOU_WATCHED | TRENDING | GENRE | POPULAR
    items: list[Scored]
    based_on: str | None = None
    genre: str | None = None


class RowService:
    def __init__(self, serving: ServingService) -> None:
        self.serving = serving

    async def rows(
        self,
        user_id: str,
        audience: Audience,
        per_row: int,
        situation: Situation | None = None,
        history: Sequence[str] | None = None,
        *,
        profile_id: str = DEFAULT_PROFILE,
    ) -> list[Row]:
        """The profile's home-screen rows, each with a reason a client can show."""
        serving = self.serving
        ranker = await serving.training.model()
        if history is None:
            history = await serving.history(user_id, profile_id=profile_id)
        known = [c for c in history if c in ranker.index]
        rows: list[Row] = []
        used: set[str] = set()

        def add(row: Row) -> None:
            if row.items:
                rows.append(row)
                used.update(s.content_id for s in row.items)

        if known:
            add(
                Row(
                    "top-picks",
                    "Top picks for you",
                    "Picked from everything you watched",
                    "TOP_PICKS",
                    serving.rank(ranker, history, per_row, audience, situation=situation),
                )
            )
            for anchor in list(reversed(known))[:2]:
                items = serving.rank(
                    ranker, [anchor], per_row, audience, exclude=set(history) | used
                )
                title = self._title_hint(anchor)
                add(
                    Row(
                        f"because:{anchor}",
                        f"Because you watched {title}",
                        f"Viewers who watched {title} went on to watch these",
                        "BECAUSE_YOU_WATCHED",
                        [Scored(s.content_id, s.score, anchor, "WATCHED_SIMILAR") for s in items],
                        based_on=anchor,
                    )
                )
            genre = self._favourite_genre(known)
            if genre:
                items = serving.rank(
                    ranker,
                    history,
                    per_row,
                    audience,
                    only=self._in_genre(genre),
                    exclude=used,
                )
                add(
                    Row(
                        f"genre:{genre}",
                        f"Continue exploring {genre}",
                        f"You watch a lot of {genre}",
                        "GENRE",
                        [Scored(s.content_id, s.score, s.based_on, "GENRE") for s in items],
                        genre=genre,
                    )
                )
        trending = await serving.trending(
            per_row, audience.region, "WEEK", audience, exclude=set(history)
        )
        where = f" in {audience.region.upper()}" if audience.region else ""
        add(
            Row(
                "trending",
                f"Trending{where}",
                f"What viewers{where or ' everywhere'} are watching this week",
                "TRENDING",
                trending,
            )
        )
        if not known:  # cold start: popular titles per genre
            counts: dict[str, int] = {}
            for item in ranker.items[:200]:
                for g in self._genres(item):
                    counts[g] = counts.get(g, 0) + 1
            for genre in sorted(counts, key=lambda g: (-counts[g], g))[:2]:
                items = serving.rank(
                    ranker,
                    [],
                    per_row,
                    audience,
                    only=self._in_genre(genre),
                    exclude=used,
                )
                add(
                    Row(
                        f"popular:{genre}",
                        f"Popular in {genre}",
                        f"Start with the {genre} titles viewers love",
                        "POPULAR",
                        items,
                        genre=genre,
                    )
                )
        return rows

    def _in_genre(self, genre: str) -> Callable[[str], bool]:
        return lambda content_id: genre in self._genres(content_id)

    def _genres(self, content_id: str) -> tuple[str, ...]:
        feature = self.serving.features.get(content_id)
        return feature.genres if feature else ()

    def _title_hint(self, content_id: str) -> str:
        """A readable title from a content id ("movie:the-matrix-1999" -> "The Matrix")."""
        slug = content_id.split(":", 1)[-1]
        words = slug.split("-")
        feature = self.serving.features.get(content_id)
        if feature and feature.year and words and words[-1] == str(feature.year):
            words = words[:-1]
        return " ".join(w.capitalize() if k == 0 or len(w) > 3 else w for k, w in enumerate(words))

    def _favourite_genre(self, history: Sequence[str]) -> str | None:
        counts: dict[str, float] = {}
        for k, item in enumerate(history):
            for g in self._genres(item):
                counts[g] = counts.get(g, 0.0) + 1.0 + k / max(1, len(history))
        return max(counts, key=lambda g: (counts[g], g)) if counts else None
